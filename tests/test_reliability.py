"""Reliability of runs: exact resume after SIGKILL, reproducible runs, multi-worker outputs.

These tests start the real example scripts as processes (tiny images, a few steps each) and
compare the final weights bit for bit.
"""

import concurrent.futures
import json
import os
import random
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
import tensorflow as tf
from gan_setup import BATCH, digit_batches, digit_images, make_gan
from test_examples import EXAMPLES, REPO, script_environment
from test_multi_worker import run_workers

import tfgen  # (also registers the tfgen classes for loading)
from tfgen import runs
from tfgen.optimizers import Adam, Nesterov
from tfgen.runs import read_history

HERE = os.path.dirname(os.path.abspath(__file__))
TINY = dict(image_size=8, batch_size=8, latent_dim=4, base_filters=4, samples=4, seed=7)
# Three epochs of five steps, backed up every second step, so most backups lie inside an
# epoch: a resumed run restores the state mid-epoch, trains the rest of that epoch, then the
# later epochs, and must read exactly the batches of the uninterrupted run. Each process scores
# the generator at its first and last epoch, on 50 samples (not 500): the scores' cost, not
# their precision, matters here (a score must not disturb what the run restores).
GAN_RUN = dict(TINY, steps=5, epochs=3, backup_every=2, deterministic=True, eval_samples=50)
KILLS = 3


def inside_an_epoch(step):
    """Whether a backup of GAN_RUN at `step` lies inside an epoch (not at an epoch end)."""
    return step is not None and step % GAN_RUN["steps"] != 0


def flags(settings):
    return [f"--{key}={value}" for key, value in settings.items()]


def start(script, settings, output_dir, *extra, environment=None, devices=1):
    """Starts an example script; with devices=2 on the CPU split in two (two_cpu_devices.py)."""
    command = [sys.executable, os.path.join(EXAMPLES, script), *flags(settings)]
    if devices == 2:
        command.insert(1, os.path.join(HERE, "two_cpu_devices.py"))
    return subprocess.Popen(
        [*command, f"--output_dir={output_dir}", *extra],
        env=environment or script_environment(),
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process):
    _, errors = process.communicate(timeout=600)
    assert process.returncode == 0, errors[-3000:]


def weights(path):
    return [np.asarray(w) for w in keras.saving.load_model(path, safe_mode=True).weights]


def assert_identical(got, want):
    assert len(got) == len(want)
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a, b)


def backed_up_step(output_dir):
    """The step of the backup a resumed run starts from (state.npz, else previous.npz)."""
    for name in ("state.npz", "previous.npz"):
        try:
            with np.load(os.path.join(output_dir, "backup", name)) as state:
                return json.loads(str(state["metadata"]))["step"]
        except (OSError, ValueError, KeyError, EOFError):
            continue
    return None


def _gan_with_every_kind_of_state():
    """A GAN whose state has every part a resume must restore: two optimizers (one on a
    learning-rate schedule, one with a learning-rate variable), their slots and counters, the
    moving-average generator and the noise step."""
    gan = make_gan(filters=4)
    schedule = keras.optimizers.schedules.ExponentialDecay(1e-3, decay_steps=2, decay_rate=0.5)
    gan.compile(
        generator_optimizer=Adam(schedule),
        discriminator_optimizer=Nesterov(0.01),
        discriminator_steps=2,
        generator_ema=0.9,
        jit_compile=False,
    )
    return gan


def test_a_gan_backup_restores_every_part_of_the_training_state(tmp_path):
    data = digit_batches(count=5 * BATCH)  # Five steps: three, a backup, then two more.
    uninterrupted = _gan_with_every_kind_of_state()
    uninterrupted.fit(data.take(3), epochs=1, verbose=0)
    backup = tfgen.callbacks.StepBackup(tmp_path)
    backup.set_model(uninterrupted)
    assert backup.save()
    saved = {v.path: np.array(v) for v in tfgen.callbacks.training_variables(uninterrupted)}
    saved_metrics = [np.array(v) for v in tfgen.callbacks.metric_variables(uninterrupted)]
    uninterrupted.fit(data.skip(3), epochs=1, verbose=0)

    # Every part is in the backup, with the values after three steps.
    names = list(saved)
    assert saved["noise_step"] == 3
    counters = sorted(int(saved[n]) for n in names if n.endswith("/iteration"))
    assert counters == [3, 6]  # Generator: one update a step; discriminator: two.
    assert any(n.endswith("/learning_rate") for n in names)  # The Nesterov's variable.
    for prefix in ("adam", "nesterov"):
        slots = [n for n in names if n.startswith(prefix) and not n.endswith(("iteration", "rate"))]
        assert slots and any(np.any(saved[n] != 0) for n in slots)
    ema = uninterrupted.ema_generator.weights
    assert len(ema) and all(w.path in saved for w in ema)

    # A fresh GAN with every variable overwritten, restored, takes the same last two steps
    # bit for bit.
    resumed = _gan_with_every_kind_of_state()
    for variable in tfgen.callbacks.training_variables(resumed):
        variable.assign(np.ones(variable.shape, variable.dtype))
    for variable in tfgen.callbacks.metric_variables(resumed):
        variable.assign(np.ones(variable.shape, variable.dtype))
    assert tfgen.callbacks.StepBackup.restore(tmp_path, resumed) == 0
    # The metrics' sums and counts, which a history row of a resumed epoch continues.
    restored_metrics = [np.array(v) for v in tfgen.callbacks.metric_variables(resumed)]
    assert len(saved_metrics) == len(restored_metrics) >= 8  # d_loss, g_loss, d_real, d_fake
    for got, want in zip(restored_metrics, saved_metrics):
        np.testing.assert_array_equal(got, want)
    assert int(resumed.noise_step) == 3
    assert int(resumed.generator_optimizer.iterations) == 3
    # The schedule's position: the learning rate the next update uses.
    assert float(resumed.generator_optimizer.learning_rate) == pytest.approx(1e-3 * 0.5**1.5)
    resumed.fit(data.skip(3), epochs=1, verbose=0)
    for want, got in zip(
        tfgen.callbacks.training_variables(uninterrupted),
        tfgen.callbacks.training_variables(resumed),
    ):
        np.testing.assert_array_equal(np.array(got), np.array(want), err_msg=want.path)


class _KillAfter(keras.callbacks.Callback):
    """Stops the process's training after `steps` batches, as a kill would (no clean end)."""

    def __init__(self, steps):
        super().__init__()
        self.steps, self.seen = steps, 0

    def on_train_batch_end(self, batch, logs=None):
        self.seen += 1
        if self.seen == self.steps:
            raise KeyboardInterrupt("killed")


@pytest.mark.parametrize(
    "replicas",
    [
        1,
        # Two replicas: Keras draws no batch of its own from the data of a model that is built
        # (tfgen._keras_compat.BuiltModel), so the resumed stream reshuffles as the
        # uninterrupted one.
        pytest.param(2, marks=pytest.mark.slow),
    ],
)
def test_a_run_resumed_inside_an_epoch_equals_an_uninterrupted_one(tmp_path, request, replicas):
    strategy = (
        request.getfixturevalue("two_replicas") if replicas == 2 else tf.distribute.get_strategy()
    )

    def data():  # A shuffling pipeline: each part of a resumed run needs a fresh copy.
        images = tf.data.Dataset.from_tensor_slices(digit_images()[: 5 * BATCH])
        return images.shuffle(5 * BATCH, seed=0).batch(BATCH // 2, drop_remainder=True)

    def fit(name, *callbacks, resume=False):
        with strategy.scope():
            gan = make_gan(filters=4)
            gan.compile(generator_ema=0.9, discriminator_steps=2, jit_compile=False)
        run = runs.Run(tmp_path / name, {}, "gan.keras", resume=resume, backup_every=2)
        return run.fit(gan, data, epochs=3, steps_per_epoch=5, callbacks=callbacks, verbose=0)

    reference = fit("uninterrupted")
    # Stopped after step 9 of 15: the last backup is at step 8, inside the second epoch.
    with pytest.raises(KeyboardInterrupt):
        fit("resumed", _KillAfter(9))
    assert backed_up_step(tmp_path / "resumed") == 8
    resumed = fit("resumed", resume=True)
    assert resumed.initial_epoch == 1
    assert_identical(
        [np.asarray(v) for v in tfgen.callbacks.training_variables(resumed.model)],
        [np.asarray(v) for v in tfgen.callbacks.training_variables(reference.model)],
    )
    # The second epoch's row averages its 5 steps. On two replicas the metrics' sums are kept
    # per replica and summed when read; a backup holds the sum, which the restore splits
    # evenly, so the resumed epoch adds the same terms in another order (float32 rounding).
    if replicas == 1:
        assert resumed.history == reference.history
    else:
        assert resumed.history.keys() == reference.history.keys()
        for key, values in reference.history.items():
            np.testing.assert_allclose(resumed.history[key], values, rtol=1e-6, atol=1e-9)


def _uninterrupted_runs(folder, strategy):
    """Output folders of GAN_RUN run uninterrupted on `strategy`: on one device twice, first
    preparing the bundled digits in a fresh data directory, then finding them there."""
    settings = dict(GAN_RUN, strategy=strategy)
    if strategy == "mirrored":
        finish(start("train_gan.py", settings, folder / "mirrored", devices=2))
        return [folder / "mirrored"]
    environment = dict(script_environment(), TFDS_DATA_DIR=str(folder / "tfds"))
    for name in ("preparing", "prepared"):
        finish(start("train_gan.py", settings, folder / name, environment=environment))
    return [folder / "preparing", folder / "prepared"]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """uninterrupted(strategy) -> a future of `_uninterrupted_runs`, started at first call.

    The runs are child processes watched from a background thread, so they go on beside the
    killed and resumed runs of the test that asks first (two processes keep both cores busy);
    later tests read the same folders.
    """
    folder = tmp_path_factory.mktemp("uninterrupted")
    futures = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as background:

        def get(strategy):
            if strategy not in futures:
                futures[strategy] = background.submit(
                    _uninterrupted_runs, folder / strategy, strategy
                )
            return futures[strategy]

        yield get


@pytest.mark.slow
@pytest.mark.parametrize("strategy", ["default", "mirrored"])
def test_gan_runs_are_reproducible_and_resume_exactly_after_sigkill(
    tmp_path, strategy, uninterrupted
):
    # "mirrored": MirroredStrategy over the CPU split into two logical devices, two replicas.
    devices = 2 if strategy == "mirrored" else 1
    settings = dict(GAN_RUN, strategy=strategy)
    # The uninterrupted runs, under way beside the killed one below.
    reference_runs = uninterrupted(strategy)

    # The same run killed with SIGKILL at random moments, each time resumed with --resume,
    # KILLS times and until a resume started inside an epoch (each kill follows a new backup,
    # so the run finishes after at most as many kills as it writes backups).
    rng = random.Random(13)
    killed = tmp_path / "killed"
    killed_at = []
    while len(killed_at) < KILLS or not any(map(inside_an_epoch, killed_at)):
        resume = ["--resume"] if killed_at else []
        process = start("train_gan.py", settings, killed, *resume, devices=devices)
        # Wait for training to go on (a backup beyond the last one), then a random moment.
        deadline = time.monotonic() + 300
        before = backed_up_step(killed) or 0
        while (backed_up_step(killed) or 0) <= before and process.poll() is None:
            assert time.monotonic() < deadline, "the run wrote no backup"
            time.sleep(0.05)
        time.sleep(rng.uniform(0.0, 0.6))
        if process.poll() is not None:
            finish(process)  # The run finished before the kill.
            break
        process.send_signal(signal.SIGKILL)
        process.wait()
        killed_at.append(backed_up_step(killed))
    else:
        finish(start("train_gan.py", settings, killed, "--resume", devices=devices))
    reference_dir = reference_runs.result()[0]
    reference = weights(reference_dir / "gan.keras")
    # Two runs are bit-identical (shown once, on one device; the mirrored case needs only the
    # reference, which keeps this slow test shorter).
    if devices == 1:
        assert_identical(weights(reference_runs.result()[1] / "gan.keras"), reference)
    assert_identical(weights(killed / "gan.keras"), reference)
    print(f"SIGKILLs: {len(killed_at)}, last backed-up steps at the kills: {killed_at}")
    assert len(killed_at) >= 2, f"only {len(killed_at)} kills landed before the run finished"
    assert any(map(inside_an_epoch, killed_at)), "no resume started inside an epoch"
    assert not os.path.exists(killed / "backup")
    assert not [name for name in os.listdir(killed) if name.startswith(".")]  # No staging files.
    with open(killed / "history.csv") as file:
        epochs = [line.split(",")[0] for line in file.readlines()[1:]]
    assert sorted(set(epochs)) == ["0", "1", "2"]
    # The losses per epoch too, an epoch resumed inside averaging all its steps. (A resumed run
    # also scores the generator at the first epoch it trains: those columns differ.)
    want, got = (read_history(path / "history.csv") for path in (reference_dir, killed))
    for key in ("d_loss", "g_loss", "d_real", "d_fake"):
        if devices == 1:
            assert got[key] == want[key], key
        else:  # Metric sums per replica, restored as an even split (see the test above).
            np.testing.assert_allclose(got[key], want[key], rtol=1e-6, atol=1e-9, err_msg=key)


@pytest.mark.slow
def test_a_seeded_run_is_the_same_whether_or_not_the_data_had_to_be_prepared(uninterrupted):
    # The first uninterrupted run prepared the bundled digits in a fresh data directory, the
    # second found them there: preparing must not move any generator the seed set.
    preparing, prepared = uninterrupted("default").result()
    assert os.listdir(preparing.parent / "tfds")  # The data was prepared there.
    assert_identical(weights(prepared / "gan.keras"), weights(preparing / "gan.keras"))


@pytest.mark.slow
def test_reconstruction_runs_are_reproducible(tmp_path):
    settings = dict(TINY, steps=3, epochs=2, task="denoise", deterministic=True)
    processes = [start("train_reconstruction.py", settings, tmp_path / n) for n in "ab"]
    for process in processes:
        finish(process)
    assert_identical(
        weights(tmp_path / "b" / "autoencoder.keras"), weights(tmp_path / "a" / "autoencoder.keras")
    )


@pytest.mark.slow
def test_two_workers_write_one_set_of_outputs(tmp_path):
    output_dir = tmp_path / "run"
    script = os.path.join(HERE, "multi_worker_run.py")
    # A fresh run, then the same run again with --overwrite: only the chief deletes the folder.
    for overwrite in (False, True):
        settings = dict(TINY, steps=2, epochs=2, output_dir=str(output_dir), verbose=0)
        settings["eval_samples"] = 50  # Scored at both epochs: on 50 samples, not 500.
        settings = json.dumps(dict(settings, overwrite=overwrite))
        environments = {}
        for index in range(2):
            (tmp_path / f"tmp{index}").mkdir(exist_ok=True)
            environments[index] = dict(script_environment(), TMPDIR=str(tmp_path / f"tmp{index}"))
        run_workers(
            [[script, settings, str(tmp_path / f"w{index}.npz")] for index in range(2)],
            environments,
        )
        # One set of outputs, written by the chief; the other worker removed its temporary
        # copies.
        assert sorted(os.listdir(output_dir)) == [
            "checkpoint.keras",
            "config.json",
            "gan.keras",
            "history.csv",
            "logs",
            "losses.png",
            "samples",
            "saved_model",
        ]
        assert sorted(os.listdir(output_dir / "samples")) == ["epoch_001.png", "epoch_002.png"]
        with open(output_dir / "history.csv") as file:
            assert len(file.readlines()) == 3
        assert os.listdir(tmp_path / "tmp1") == []
        chief, other = (np.load(tmp_path / f"w{i}.npz") for i in range(2))
        assert len(chief.files) == len(other.files) > 0
        for name in chief.files:
            np.testing.assert_array_equal(chief[name], other[name])
        assert_identical(weights(output_dir / "gan.keras"), [chief[n] for n in chief.files])
