"""MultiWorkerMirroredStrategy: two local worker processes train like one device."""

import hashlib
import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest
import tensorflow_datasets as tfds
from gan_setup import BATCH, digit_batches, make_denoiser, make_gan
from PIL import Image

import tfgen.data
from tfgen.models import _jit

HERE = os.path.dirname(__file__)


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def run_workers(arguments, environments=None):
    """Runs one Python process per entry of `arguments` as the workers of one cluster on
    127.0.0.1 (TF_CONFIG), with `environments[i]` added to worker i's; waits for all to pass."""
    workers = [f"127.0.0.1:{port}" for port in free_ports(len(arguments))]
    processes = []
    for index, args in enumerate(arguments):
        env = dict(os.environ, CUDA_VISIBLE_DEVICES="", **(environments or {}).get(index, {}))
        env["TF_CONFIG"] = json.dumps(
            {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        )
        processes.append(
            subprocess.Popen(
                [sys.executable, *args],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        )
    for process in processes:
        output, _ = process.communicate(timeout=600)
        assert process.returncode == 0, output[-3000:]


def assert_equal_to_one_device(results, model, history, loss):
    """Each worker's saved weights and `loss` history (`results`, loaded .npz files) match
    `model` trained on one device: rtol 1e-4, as float32 sums split over workers reorder."""
    expected = [w.numpy() for w in model.weights]
    for result in results:
        weights = [result[f"arr_{i}"] for i in range(len(expected))]
        for got, want in zip(weights, expected):
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(result[loss], history.history[loss], rtol=1e-4)


@pytest.mark.slow
def test_two_workers_equal_one_device(tmp_path):
    """Without XLA for the GAN; with it (each replica's parts compiled) for a denoiser."""
    script = os.path.join(HERE, "multi_worker_gan.py")
    run_workers(
        [
            [script, str(tmp_path / f"w{i}.npz"), "auto", "4", str(tmp_path / f"d{i}.npz")]
            for i in range(2)
        ]
    )
    denoiser = make_denoiser()
    denoiser.compile(jit_compile=True)
    history = denoiser.fit(digit_batches(), epochs=1, verbose=0)
    results = [np.load(tmp_path / f"d{index}.npz") for index in range(2)]
    assert_equal_to_one_device(results, denoiser, history, "loss")

    gan = make_gan()
    gan.compile(gradient_penalty=("r1", 1.0))
    history = gan.fit(digit_batches(), epochs=1, verbose=0)
    results = [np.load(tmp_path / f"w{index}.npz") for index in range(2)]
    assert_equal_to_one_device(results, gan, history, "d_loss")


@pytest.mark.slow
def test_two_workers_measure_xla_alike_and_still_equal_one_device(tmp_path):
    """`jit_compile="auto"` on 2 workers: both time the variants, agree on one (their typical
    times are averaged across workers) and train, XLA steps included, as one device does.

    The builders' generator has a synchronised batch norm under the strategy, so XLA compiles
    the discriminator's parts only and the codes are drawn by TensorFlow's kernels as on one
    device without XLA; XLA's own summation order stays within the tolerance (rtol 1e-4, as
    for two workers against one device without XLA: float32 sums split over workers).
    """
    batches = _jit.STEPS_TO_DECIDE + 2
    run_workers(
        [
            [os.path.join(HERE, "multi_worker_gan.py"), str(tmp_path / f"w{i}.npz"), "auto"]
            + [str(batches)]
            for i in range(2)
        ]
    )
    results = [np.load(tmp_path / f"w{index}.npz") for index in range(2)]
    decisions = [json.loads(str(result["decision"])) for result in results]
    assert decisions[0] == decisions[1] and decisions[0]["xla_error"] is None
    assert bool(results[0]["jit_compile"]) is decisions[0]["jit_compile"]
    assert bool(results[1]["jit_compile"]) is decisions[0]["jit_compile"]

    gan = make_gan()
    gan.compile(gradient_penalty=("r1", 1.0), jit_compile=False)
    history = gan.fit(digit_batches(count=batches * BATCH), epochs=1, verbose=0)
    assert_equal_to_one_device(results, gan, history, "d_loss")


@pytest.fixture(scope="module")
def shard_reads(tmp_path_factory):
    """What each of two workers read of an image folder, then of a tfds dataset
    (multi_worker_shards.py): {"folder": [worker 0's, worker 1's], "tfds": [...], "files": the
    dataset's record files, "data_dir": its folder}. One pair of processes for both reads."""
    root = tmp_path_factory.mktemp("shards")
    folder = root / "images"
    folder.mkdir()
    for index in range(16):  # Image i is grey, filled with the value 15 i.
        Image.fromarray(np.full((8, 8), 15 * index, np.uint8)).save(folder / f"{index:02d}.png")
    # The bundled digits written as 4 record files: FILE sharding, 2 files per worker.
    data_dir = str(root / "tfds")
    builder = tfds.builder("tfgen_digits", data_dir=data_dir)
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(num_shards=4, try_download_gcs=False)
    )
    files = {os.path.basename(f.filename) for f in builder.info.splits["train"].file_instructions}
    script = os.path.join(HERE, "multi_worker_shards.py")
    run_workers(
        [
            [script, str(folder), str(root / f"folder{i}"), data_dir, str(root / f"tfds{i}")]
            for i in range(2)
        ]
    )
    reads = {"files": files, "data_dir": data_dir}
    for name in ("folder", "tfds"):
        reads[name] = []
        for index in range(2):
            with open(root / f"{name}{index}") as file:
                reads[name].append(json.load(file))
    return reads


@pytest.mark.slow
def test_two_workers_read_each_its_own_files_of_a_folder(shard_reads):
    results = shard_reads["folder"]
    opened = [set(result["opened"]) for result in results]
    # `load` probed one file of the worker's own share for the image size (not the pixels).
    for result in results:
        assert len(result["probed"]) == 1 and set(result["probed"]) <= set(result["opened"])
    # Each worker's pipeline decoded its 8 files, none of the other's, each once in the epoch.
    assert [len(result["opened"]) for result in results] == [8, 8]
    assert len(opened[0]) == len(opened[1]) == 8 and not opened[0] & opened[1]
    assert opened[0] | opened[1] == {f"{index:02d}.png" for index in range(16)}
    # One epoch over both workers hands every image to a replica exactly once.
    assert sorted(results[0]["seen"] + results[1]["seen"]) == list(range(16))


@pytest.mark.slow
def test_two_workers_read_each_its_own_record_files_of_a_tfds_dataset(shard_reads):
    """The bundled digits written as 4 record files: FILE sharding, 2 files per worker."""
    files = shard_reads["files"]
    assert len(files) == 4
    results = shard_reads["tfds"]
    opened = [set(result["opened"]) for result in results]
    # Each worker opened 2 of the 4 files, each once in the epoch, none of the other's.
    assert [len(result["opened"]) for result in results] == [2, 2]
    assert not opened[0] & opened[1] and opened[0] | opened[1] == files
    # One epoch over both workers hands every example to a replica exactly once.
    everything = tfgen.data.load(
        "digits", data_dir=shard_reads["data_dir"], batch_size=100, shuffle=False
    )
    pixels = np.concatenate([np.rint((b.numpy() + 1) * 127.5) for b in everything])
    expected = sorted(hashlib.sha1(p.astype(np.uint8).tobytes()).hexdigest() for p in pixels)
    assert sorted(results[0]["seen"] + results[1]["seen"]) == expected
