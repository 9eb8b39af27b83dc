"""Tests for tfgen.data: bundled tfds builders, tfds names, image folders and the pipeline."""

import os
import socket
import threading
import warnings

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds
from PIL import Image
from sklearn.datasets import load_digits, load_sample_images

import tfgen.data as tdata
from tfgen.data import pipeline, sources

# Rows are one image each; compare datasets as multisets of images.


def _rows(images):
    images = np.asarray(images)
    return sorted(
        r.tobytes() for r in np.round(images * 1e4).astype(np.int64).reshape(len(images), -1)
    )


def _collect(ds):
    return np.concatenate([b.numpy() for b in ds])


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("tfds"))


@pytest.fixture(scope="module")
def digits_ref():
    """sklearn's digits scaled 0..16 -> 0..255 (rounded, as stored) -> [-1, 1], with numpy."""
    digits = load_digits()
    stored = np.rint(digits.images * 255.0 / 16.0)
    return stored / 255.0 * 2.0 - 1.0, digits.target


@pytest.fixture
def no_network(monkeypatch):
    """Make every connection attempt fail at once and record it."""
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("network disabled in tests")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    return attempts


def _write_png(path, array):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(np.asarray(array, dtype=np.uint8).squeeze()).save(path)


def _patterns(n, size=(12, 10), seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(n, *size, 3), dtype=np.uint8)


# --- bundled data -----------------------------------------------------------------------------


# The digits' split, written out: a seeded random permutation, its first 297 are `test`.
DIGITS_ORDER = np.random.default_rng(0).permutation(1797)
DIGITS_TRAIN, DIGITS_TEST = DIGITS_ORDER[297:], DIGITS_ORDER[:297]


def test_digits_values_match_sklearn(data_dir, digits_ref):
    ref, _ = digits_ref
    train = tdata.load("digits", data_dir=data_dir, batch_size=1500, shuffle=False)
    (batch,) = list(train)
    assert batch.shape == (1500, 8, 8, 1) and batch.dtype == tf.float32
    x = batch.numpy()
    assert x.min() >= -1.0 and x.max() <= 1.0 and x.min() == -1.0 and x.max() == 1.0
    np.testing.assert_allclose(x[..., 0], ref[DIGITS_TRAIN], atol=1e-6)

    test = tdata.load("digits", split="test", data_dir=data_dir, batch_size=297, shuffle=False)
    np.testing.assert_allclose(_collect(test)[..., 0], ref[DIGITS_TEST], atol=1e-6)
    assert sorted(np.concatenate([DIGITS_TRAIN, DIGITS_TEST])) == list(range(1797))

    unit = tdata.load("digits", data_dir=data_dir, batch_size=50, shuffle=False, value_range=(0, 1))
    np.testing.assert_allclose(
        next(iter(unit)).numpy()[..., 0], (ref[DIGITS_TRAIN[:50]] + 1) / 2, atol=1e-6
    )


def test_tfds_load_of_bundled_builder_works_offline(tmp_path, digits_ref, no_network):
    ref, target = digits_ref
    images, labels = tfds.as_numpy(
        tfds.load(
            "tfgen_digits", split="test", data_dir=str(tmp_path), batch_size=-1, as_supervised=True
        )
    )
    assert images.shape == (297, 8, 8, 1) and images.dtype == np.uint8
    np.testing.assert_allclose(images[..., 0] / 255.0 * 2 - 1, ref[DIGITS_TEST], atol=1e-6)
    np.testing.assert_array_equal(labels, target[DIGITS_TEST])
    builder = tfds.builder("tfgen_digits", data_dir=str(tmp_path))
    assert builder.is_prepared()
    assert builder.info.splits["train"].num_examples == 1500
    assert not no_network


def _draws_after_seed_and_load(data_dir):
    """What a seeded run draws from every global generator after loading the digits."""
    import random

    import keras

    keras.utils.set_random_seed(7)
    tdata.load("digits", data_dir=data_dir, batch_size=8, seed=7)
    return (
        random.random(),
        np.random.random(),  # noqa: NPY002  (the global generator is the point)
        float(keras.random.uniform([])),
        float(tf.random.uniform([])),
    )


def test_preparing_bundled_data_leaves_the_global_generators_alone(tmp_path, capsys):
    # tfds names its temporary folder with Python's `random` only when it prepares data.
    data_dir = str(tmp_path)
    preparing = _draws_after_seed_and_load(data_dir)
    printed = capsys.readouterr().out
    prepared = _draws_after_seed_and_load(data_dir)
    assert preparing == prepared
    # Said what happens, instead of tfds' "Downloading and preparing ... Unknown size".
    assert "Preparing the bundled dataset 'tfgen_digits' once" in printed
    assert "Downloading" not in printed and "Unknown size" not in printed
    assert "Preparing" not in capsys.readouterr().out  # Only the first time.


def _source_photos():
    """The photographs read independently of tfgen: sklearn's arrays and Pillow."""
    from matplotlib import cbook

    sample = load_sample_images()
    photos = {
        os.path.basename(f).split(".")[0]: img for f, img in zip(sample.filenames, sample.images)
    }
    with Image.open(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)) as im:
        photos["grace_hopper"] = np.asarray(im.convert("RGB"))
    return [photos[n] for n in ("china", "flower", "grace_hopper")]


def test_photos_crops_are_real_disjoint_regions(data_dir, no_network):
    photos = _source_photos()
    examples = {}
    for split in ("train", "test"):
        ds = tfds.load("tfgen_photos", split=split, data_dir=data_dir, batch_size=-1)
        examples[split] = tfds.as_numpy(ds)
    assert examples["train"]["image"].shape == (2400, 64, 64, 3)
    assert examples["test"]["image"].shape == (240, 64, 64, 3)
    for split, ex in examples.items():
        for image, photo, (y, x) in zip(ex["image"], ex["photo"], ex["offset"]):
            source = photos[photo]
            np.testing.assert_array_equal(image, source[y : y + 64, x : x + 64])
            boundary = int(source.shape[1] * 0.75)
            if split == "train":
                assert x + 64 <= boundary
            else:
                assert x >= boundary
        assert len(np.unique(ex["offset"], axis=0)) > 0.9 * len(ex["offset"])
    # The pipeline delivers the same crops, in [0, 1], when labels are asked for (without
    # labels "photos" reads tfgen.data.photos: see tests/test_photos.py).
    batches = tdata.load(
        "photos",
        split="test",
        data_dir=data_dir,
        batch_size=40,
        shuffle=False,
        value_range=(0, 1),
        with_labels=True,
    )
    loaded = np.concatenate([images.numpy() for images, _ in batches])
    assert loaded.shape == (240, 64, 64, 3) and loaded.min() >= 0 and loaded.max() <= 1
    np.testing.assert_allclose(loaded, examples["test"]["image"] / 255.0, atol=1e-6)
    assert not no_network


# --- folders ----------------------------------------------------------------------------------


def test_folder_flat_and_with_class_subfolders(tmp_path):
    images = _patterns(6)
    flat = tmp_path / "flat"
    for i, img in enumerate(images):
        _write_png(str(flat / f"img{i}.png"), img)
    (flat / "notes.txt").write_text("not an image")
    nested = tmp_path / "nested"
    for i, img in enumerate(images):
        _write_png(str(nested / ("cats" if i % 2 else "dogs") / f"{i}.png"), img)
    for root in (flat, nested):
        ds = tdata.load(f"folder:{root}", batch_size=3, value_range=(0, 1), seed=1)
        assert ds.element_spec.shape == (3, 12, 10, 3)
        got = _collect(ds)
        assert _rows(got) == _rows(images / 255.0)


def test_folder_skips_corrupt_files_with_one_warning(tmp_path):
    images = _patterns(5)
    for i, img in enumerate(images):
        _write_png(str(tmp_path / f"ok{i}.png"), img)
    (tmp_path / "garbage.png").write_bytes(b"this is not a png")
    good = (tmp_path / "ok0.png").read_bytes()
    (tmp_path / "truncated.png").write_bytes(good[: len(good) // 2])
    ds = tdata.load(f"folder:{tmp_path}", batch_size=1, shuffle=False, value_range=(0, 1))
    with pytest.warns(UserWarning, match="Skipped 2 of 7 image files") as record:
        got = _collect(ds)
    assert len([w for w in record if "Skipped" in str(w.message)]) == 1
    assert _rows(got) == _rows(images / 255.0)
    # A second pass reads from the cache: no new warning.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(_collect(ds)) == 5


def test_folder_mixed_sizes_grey_and_jpeg(tmp_path):
    rng = np.random.default_rng(3)
    first = rng.integers(0, 256, size=(16, 16), dtype=np.uint8)
    _write_png(str(tmp_path / "a.png"), first)  # First file: grey 16x16 -> 1 channel, 16x16.
    Image.fromarray(rng.integers(0, 256, size=(20, 30, 3), dtype=np.uint8)).save(tmp_path / "b.jpg")
    ds = tdata.load(f"folder:{tmp_path}", batch_size=2, shuffle=False, value_range=(0, 255))
    assert ds.element_spec.shape == (2, 16, 16, 1)
    batch = next(iter(ds)).numpy()
    np.testing.assert_allclose(batch[0, ..., 0], first, atol=1e-3)


# --- preprocessing ----------------------------------------------------------------------------


def _ramp(height, width):
    """Linear ramp v(y, x) = 3 + 4 x + 2 y, exactly representable in uint8 for small sizes."""
    y, x = np.mgrid[0:height, 0:width]
    return (3 + 4 * x + 2 * y).astype(np.uint8)[..., None]


def test_resize_keeps_content():
    # Antialiased bilinear resizing uses a symmetric, normalised kernel, so a linear ramp
    # survives: output pixel (i, j) has the ramp's value at its centre in input coordinates,
    # ((i + 0.5) * s - 0.5) with s = input / output size, away from the borders.
    image = tf.constant(_ramp(32, 48))
    out = tdata.preprocess(image, (8, 12), None, "resize").numpy()[..., 0].astype(float)
    i, j = np.mgrid[0:8, 0:12]
    expected = 3 + 4 * ((j + 0.5) * 4 - 0.5) + 2 * ((i + 0.5) * 4 - 0.5)
    np.testing.assert_allclose(out[2:-2, 2:-2], expected[2:-2, 2:-2], atol=0.51)
    # A half-black, half-white image stays so away from the edge between them.
    halves = np.zeros((32, 32, 1), np.uint8)
    halves[:, 16:] = 255
    small = tdata.preprocess(tf.constant(halves), 8, None, "resize").numpy()[..., 0]
    assert (small[:, :3] == 0).all() and (small[:, 5:] == 255).all()


def test_center_crop_and_crop_resize():
    image = _ramp(20, 40)
    crop = tdata.preprocess(tf.constant(image), (10, 10), None, "center_crop").numpy()
    np.testing.assert_array_equal(crop, image[5:15, 15:25])
    # crop_resize keeps the central 20x20 square, then halves it.
    square = tdata.preprocess(tf.constant(image), (10, 10), None, "crop_resize").numpy()[..., 0]
    i, j = np.mgrid[0:10, 0:10]
    expected = 3 + 4 * (10 + (j + 0.5) * 2 - 0.5) + 2 * ((i + 0.5) * 2 - 0.5)
    np.testing.assert_allclose(square[1:-1, 1:-1], expected[1:-1, 1:-1], atol=0.51)


def test_channel_conversions():
    rgb = np.random.default_rng(0).integers(0, 256, size=(4, 5, 3), dtype=np.uint8)
    grey = tdata.preprocess(tf.constant(rgb), None, 1, "resize").numpy()
    luma = rgb.astype(float) @ np.array([0.2989, 0.5870, 0.1140])
    assert grey.shape == (4, 5, 1) and grey.dtype == np.uint8
    np.testing.assert_allclose(grey[..., 0], np.round(luma), atol=1)
    back = tdata.preprocess(tf.constant(grey), None, 3, "resize").numpy()
    np.testing.assert_array_equal(back, np.repeat(grey, 3, axis=-1))
    rgba = np.concatenate([rgb, np.full((4, 5, 1), 7, np.uint8)], axis=-1)
    np.testing.assert_array_equal(tdata.preprocess(tf.constant(rgba), None, None, "resize"), rgb)


def test_digits_resized_and_converted(data_dir, digits_ref):
    ref, _ = digits_ref
    ds = tdata.load(
        "digits", data_dir=data_dir, image_size=32, channels=3, batch_size=16, shuffle=False
    )
    assert ds.element_spec.shape == (16, 32, 32, 3)
    batch = next(iter(ds)).numpy()
    assert batch.min() >= -1 and batch.max() <= 1
    np.testing.assert_array_equal(batch[..., 0], batch[..., 2])
    # Upscaling interpolates linearly between pixel centres (half-pixel convention, edges
    # clamped): compare with that formula applied to the stored 8x8 digits with numpy.
    stored = (ref[DIGITS_TRAIN[:16]] + 1) / 2 * 255
    coord = np.clip((np.arange(32) + 0.5) / 4 - 0.5, 0, 7)
    low = np.floor(coord).astype(int)
    high = np.minimum(low + 1, 7)
    frac = coord - low
    rows = stored[:, low] * (1 - frac)[:, None] + stored[:, high] * frac[:, None]
    up = rows[:, :, low] * (1 - frac) + rows[:, :, high] * frac
    np.testing.assert_allclose((batch[..., 0] + 1) / 2 * 255, up, atol=0.51)


# --- pipeline behaviour -----------------------------------------------------------------------


def test_seeded_shuffle_is_reproducible(data_dir):
    def first_batches(seed):
        ds = tdata.load("digits", data_dir=data_dir, batch_size=32, seed=seed, repeat=True)
        return np.stack([b.numpy() for b in ds.take(3)])

    a, b, c = first_batches(7), first_batches(7), first_batches(8)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    # Each epoch visits every image once, in a new order.
    ds = tdata.load("digits", split="test", data_dir=data_dir, batch_size=297, seed=1, repeat=2)
    e1, e2 = (x.numpy() for x in ds)
    assert _rows(e1) == _rows(e2) and not np.array_equal(e1, e2)


def test_drop_remainder_static_shapes(data_dir):
    ds = tdata.load("digits", split="test", data_dir=data_dir, batch_size=64, shuffle=False)
    assert ds.element_spec.shape.as_list() == [64, 8, 8, 1]
    assert [b.shape[0] for b in ds] == [64] * 4
    ds = tdata.load(
        "digits",
        split="test",
        data_dir=data_dir,
        batch_size=64,
        shuffle=False,
        drop_remainder=False,
    )
    assert ds.element_spec.shape.as_list() == [None, 8, 8, 1]
    assert [b.shape[0] for b in ds] == [64] * 4 + [297 - 256]


def test_ready_for_fit(data_dir):
    import keras

    # One batch, cached so that fit sees the batch read here.
    ds = tdata.load("digits", data_dir=data_dir, batch_size=64, seed=0).take(1).cache()
    (x,) = [batch.numpy().astype(np.float64)[..., 0] for batch in ds]
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(1, 3, padding="same")])
    model.compile(optimizer="sgd", loss="mse")
    kernel, bias = (w.astype(np.float64) for w in model.get_weights())
    history = model.fit(ds.map(lambda x: (x, x)), epochs=1, verbose=0)
    # The same step in numpy: y = W * x + b (cross-correlation, zero "same" padding), the mean
    # squared error and its gradient, one SGD step of Keras' default learning rate 0.01.
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1)))
    windows = np.stack([padded[:, i : i + 8, j : j + 8] for i in range(3) for j in range(3)], -1)
    error = windows @ kernel.reshape(9) + bias[0] - x
    np.testing.assert_allclose(history.history["loss"][0], np.mean(error**2), rtol=1e-5)
    gradient = 2.0 * np.einsum("bhw,bhwk->k", error, windows) / error.size
    new_kernel, new_bias = model.get_weights()
    np.testing.assert_allclose(
        new_kernel.reshape(9), kernel.reshape(9) - 0.01 * gradient, atol=1e-6
    )
    np.testing.assert_allclose(new_bias[0], bias[0] - 0.01 * 2.0 * error.mean(), atol=1e-6)


def test_pipelines_run_without_the_autotuner(data_dir):
    # tf.data's autotuner slowed the training steps it fed on a 2-core CPU (see
    # pipeline.AUTOTUNE_ENABLED); the AUTOTUNE settings then take fixed defaults.
    ds = tdata.load("digits", data_dir=data_dir, batch_size=8, seed=0)
    assert ds.options().autotune.enabled is False
    assert next(iter(ds)).shape == (8, 8, 8, 1)


# --- distribution -----------------------------------------------------------------------------


def test_mirrored_strategy_splits_batches(data_dir, two_replicas):
    strategy = two_replicas
    ds = tdata.load("digits", data_dir=data_dir, batch_size=8, shuffle=False)
    whole = next(iter(ds)).numpy()
    dist = strategy.experimental_distribute_dataset(ds)
    per_replica = strategy.experimental_local_results(next(iter(dist)))
    assert [p.shape for p in per_replica] == [(4, 8, 8, 1), (4, 8, 8, 1)]
    np.testing.assert_array_equal(np.concatenate([p.numpy() for p in per_replica]), whole)


def _shard(ds, num_workers, index):
    from tensorflow.python.data.experimental.ops.distribute import _AutoShardDataset

    return _AutoShardDataset(ds, num_workers, index)


def test_auto_shard_policies_split_the_data(tmp_path, data_dir):
    policy = tf.data.experimental.AutoShardPolicy
    # One record file: DATA sharding, every worker keeps every second batch.
    parts = []
    for worker in range(2):
        ds = tdata.load("digits", data_dir=data_dir, batch_size=10, shuffle=False)
        assert ds.options().experimental_distribute.auto_shard_policy == policy.DATA
        parts.append(_collect(_shard(ds, 2, worker)))
    assert [len(p) for p in parts] == [750, 750]
    assert _rows(np.concatenate(parts)) == _rows(
        _collect(tdata.load("digits", data_dir=data_dir, batch_size=10, shuffle=False))
    )
    # Several record files: FILE sharding, every worker reads its own files.
    builder = tfds.builder("tfgen_digits", data_dir=str(tmp_path))
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(num_shards=4, try_download_gcs=False)
    )
    parts = []
    for worker in range(2):
        ds = tdata.load("digits", data_dir=str(tmp_path), batch_size=5, shuffle=False)
        assert ds.options().experimental_distribute.auto_shard_policy == policy.FILE
        parts.append(_collect(_shard(ds, 2, worker)))
    assert sum(len(p) for p in parts) == 1500 and min(len(p) for p in parts) > 0
    assert len(set(_rows(parts[0])) & set(_rows(parts[1]))) == 0


def test_input_context_shards_folder_files(tmp_path):
    images = _patterns(8, size=(4, 4))
    for i, img in enumerate(images):
        _write_png(str(tmp_path / f"{i}.png"), img)
    parts = []
    for pipeline_id in range(2):
        context = tf.distribute.InputContext(2, pipeline_id, 2)
        ds = tdata.load(
            f"folder:{tmp_path}",
            batch_size=4,
            seed=0,
            value_range=(0, 1),
            input_context=context,
        )
        assert ds.element_spec.shape == (2, 4, 4, 3)
        parts.append(_collect(ds))
    assert _rows(np.concatenate(parts)) == _rows(images / 255.0)


# --- tfds data that is not prepared -----------------------------------------------------------


def test_unprepared_tfds_dataset_fails_fast_offline(tmp_path, monkeypatch, no_network):
    def never(*args, **kwargs):
        raise AssertionError("download_and_prepare must not run")

    monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare", never)
    with pytest.raises(tdata.DataNotPreparedError) as err:
        tdata.load("mnist", data_dir=str(tmp_path))
    message = str(err.value)
    assert "'mnist' is not prepared" in message and str(tmp_path) in message
    assert "network is unreachable" in message and "internet" in message
    assert "data_dir" in message and "download=True" in message
    assert len(no_network) <= 2  # The single probe (name lookup and/or connect), no retries.

    no_network.clear()
    with pytest.raises(tdata.DataNotPreparedError, match="download=False"):
        tdata.load("mnist", data_dir=str(tmp_path), download=False)
    assert not no_network


def test_network_probe_gives_up_on_a_hanging_resolver(monkeypatch):
    release = threading.Event()

    def hang(*args, **kwargs):
        release.wait(10)
        raise OSError("no answer")

    monkeypatch.setattr(socket, "create_connection", hang)
    try:
        assert sources.network_available(timeout=0.2) is False
    finally:
        release.set()


# --- bad input --------------------------------------------------------------------------------


def test_unknown_name_lists_bundled_and_explains(tmp_path):
    with pytest.raises(ValueError) as err:
        tdata.load("no_such_dataset_xyz", data_dir=str(tmp_path))
    message = str(err.value)
    for part in ("'digits'", "'photos'", "tensorflow-datasets", "folder:", "no_such_dataset_xyz"):
        assert part in message


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"image_size": 0}, "image_size must be an int >= 1.*got 0"),
        ({"image_size": -3}, "image_size.*got -3"),
        ({"image_size": (8, 8, 8)}, "image_size"),
        ({"image_size": 2.5}, "image_size"),
        ({"channels": 2}, "channels must be 1, 3.*got 2"),
        ({"channels": 4}, "channels"),
        ({"batch_size": 0}, "batch_size must be a positive int, got 0"),
        ({"value_range": (1, 0)}, "value_range"),
        ({"fit": "stretch"}, "fit must be one of"),
        ({"repeat": -1}, "repeat"),
        ({"split": "validation"}, "split='validation'"),
        ({"split": "test", "batch_size": 300}, "batch_size=300 is larger than the 297 images"),
    ],
)
def test_bad_arguments(data_dir, kwargs, match):
    with pytest.raises(ValueError, match=match):
        tdata.load("digits", data_dir=data_dir, **kwargs)


def test_bad_folders(tmp_path):
    with pytest.raises(ValueError, match="is not a directory"):
        tdata.load(f"folder:{tmp_path / 'missing'}")
    (tmp_path / "readme.txt").write_text("no images here")
    with pytest.raises(ValueError, match="no image files"):
        tdata.load(f"folder:{tmp_path}")
    (tmp_path / "bad.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match="could be decoded"):
        tdata.load(f"folder:{tmp_path}")
    _write_png(str(tmp_path / "good.png"), _patterns(1)[0])
    with pytest.raises(ValueError, match="batch_size=64 is larger than the 2 images"):
        tdata.load(f"folder:{tmp_path}")
    with pytest.raises(ValueError, match="split='test' is not valid for folder"):
        tdata.load(f"folder:{tmp_path}", split="test", batch_size=1)


# --- the stages of load, one by one -----------------------------------------------------------


def _in_memory_source(images, **overrides):
    """A `sources.Source` over uint8 arrays, as tfds sources deliver them."""
    fields = dict(
        dataset=tf.data.Dataset.from_tensor_slices(images),
        decode=lambda x: x,
        num_examples=len(images),
        shape=images.shape[1:],
        num_files=1,
        file_shardable=False,
        may_fail=False,
        description="test images",
        default_size=images.shape[1:3],
    )
    fields.update(overrides)
    return sources.Source(**fields)


def test_stage_open_source_reads_a_folder(tmp_path):
    images = _patterns(3)
    for i, img in enumerate(images):
        _write_png(str(tmp_path / f"{i}.png"), img)
    source = pipeline.open_source(
        f"folder:{tmp_path}", "train", False, None, None, None, None, None
    )
    assert (source.num_examples, source.may_fail, source.default_size) == (3, True, (12, 10))
    decoded = [source.decode(x).numpy() for x in source.dataset]
    assert _rows(np.stack(decoded)) == _rows(images)


def test_stage_output_shape():
    source = _in_memory_source(np.zeros((2, 6, 4, 4), np.uint8))
    assert pipeline.output_shape(source, None, None) == (6, 4, 3)  # alpha dropped
    assert pipeline.output_shape(source, (3, 5), 1) == (3, 5, 1)
    varying = _in_memory_source(np.zeros((2, 6, 4, 3), np.uint8), default_size=None)
    with pytest.raises(ValueError, match="vary in size; pass image_size="):
        pipeline.output_shape(varying, None, 3)


def test_stage_decode_and_skip_counts_failures():
    good = tf.io.encode_png(np.full((2, 2, 1), 200, np.uint8)).numpy()
    source = _in_memory_source(
        np.zeros((3, 2, 2, 1), np.uint8),
        dataset=tf.data.Dataset.from_tensor_slices([good, b"bad", good]),
        decode=lambda x: tf.io.decode_png(x, channels=1),
        may_fail=True,
    )
    ds = pipeline.decode_and_skip(source, (4, 4, 1), 1, "resize", True)
    with pytest.warns(UserWarning, match="Skipped 1 of 3 image files of test images"):
        got = np.stack(list(ds.as_numpy_iterator()))
    assert got.shape == (2, 4, 4, 1) and got.dtype == np.uint8
    np.testing.assert_array_equal(got, 200)


def test_stage_cache_images_in_memory_on_disk_or_not(tmp_path, monkeypatch):
    reads = []

    def counted(x):
        return tf.py_function(lambda v: reads.append(1) or v, [x], tf.uint8)

    ds = tf.data.Dataset.range(4).map(lambda i: tf.cast(i, tf.uint8)).map(counted)
    cached, in_memory = pipeline.cache_images(ds, True, 4, (1, 1, 1), "four")
    assert in_memory
    for _ in range(2):
        assert list(cached.as_numpy_iterator()) == [0, 1, 2, 3]
    assert len(reads) == 4  # the second pass reads the cache
    on_disk, in_memory = pipeline.cache_images(ds, str(tmp_path / "c"), 4, (1, 1, 1), "four")
    assert not in_memory and list(on_disk.as_numpy_iterator()) == [0, 1, 2, 3]
    assert any(name.startswith("c") for name in os.listdir(tmp_path))
    monkeypatch.setattr(pipeline, "cache_limit_bytes", lambda: 3)
    too_big, in_memory = pipeline.cache_images(ds, True, 4, (1, 1, 1), "four")
    assert too_big is ds and not in_memory
    assert pipeline.cache_images(ds, False, 4, (1, 1, 1), "four") == (ds, False)


def test_stage_shuffle_images_buffer_and_order():
    assert pipeline.shuffle_buffer_size(50_000) == 10_000
    assert pipeline.shuffle_buffer_size(50_000, cached_in_memory=True) == 50_000
    assert pipeline.shuffle_buffer_size(50_000, shuffle_buffer=7) == 7
    ds = pipeline.shuffle_images(tf.data.Dataset.range(100), 100, seed=3)
    first, second = list(ds.as_numpy_iterator()), list(ds.as_numpy_iterator())
    assert sorted(first) == list(range(100)) and first != list(range(100))
    assert first != second  # a new order every pass
    again = pipeline.shuffle_images(tf.data.Dataset.range(100), 100, seed=3)
    assert list(again.as_numpy_iterator()) == first


def test_stage_batch_images_scales_repeats_and_drops():
    ds = tf.data.Dataset.from_tensor_slices(np.array([[0], [51], [255]], np.uint8))
    once = list(pipeline.batch_images(ds, 2, (-1, 1), False, True, True).as_numpy_iterator())
    assert len(once) == 1 and once[0].dtype == np.float32
    np.testing.assert_allclose(once[0], [[-1.0], [51 / 127.5 - 1]], rtol=1e-6)
    twice = list(pipeline.batch_images(ds, 2, (0, 1), 2, False, True).as_numpy_iterator())
    np.testing.assert_allclose(np.concatenate(twice)[:, 0], np.array([0, 51, 255] * 2) / 255)


# --- the pixel limit --------------------------------------------------------------------------


def _png_declaring(width, height):
    """A valid 1-bit grey PNG of width x height zeros: about 20 KB for 12000 x 12000."""
    import struct
    import zlib

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    row = b"\x00" * (1 + (width + 7) // 8)
    packer = zlib.compressobj(9)
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize("suffix, size", [("png", (7, 5)), ("gif", (9, 4)), ("bmp", (3, 11))])
def test_header_pixels_read_without_decoding(tmp_path, suffix, size):
    path = tmp_path / f"x.{suffix}"
    Image.new("RGB", size, (10, 20, 30)).save(path)
    with Image.open(path) as reference:
        want = reference.size[0] * reference.size[1]
    assert int(sources.header_pixels(path.read_bytes())) == want


def test_header_pixels_of_jpeg_and_other_bytes(tmp_path):
    path = tmp_path / "x.jpg"
    Image.new("RGB", (13, 6)).save(path)
    assert int(sources.header_pixels(path.read_bytes())) == 78
    assert int(sources.header_pixels(b"not an image")) == 0
    assert int(sources.header_pixels(_png_declaring(12000, 12000))) == 144_000_000


def test_folder_skips_images_above_max_pixels(tmp_path):
    images = _patterns(3)
    for i, img in enumerate(images):
        _write_png(str(tmp_path / f"ok{i}.png"), img)
    huge = _png_declaring(12000, 12000)
    assert len(huge) < 50_000  # 144 million pixels declared by a few kilobytes
    (tmp_path / "huge.png").write_bytes(huge)
    ds = tdata.load(f"folder:{tmp_path}", batch_size=1, shuffle=False, value_range=(0, 1))
    with pytest.warns(UserWarning, match="Skipped 1 of 4 image files.*max_pixels"):
        got = _collect(ds)
    assert _rows(got) == _rows(images / 255.0)
    # A lower limit refuses the 12 x 10 images too: only what fits remains, or a clear error.
    with pytest.raises(ValueError, match="could be decoded within max_pixels=100"):
        tdata.load(f"folder:{tmp_path}", batch_size=1, max_pixels=100)
    for bad in (0, 1.5, True, "big"):
        with pytest.raises(ValueError, match="max_pixels must be an int >= 1"):
            tdata.load(f"folder:{tmp_path}", batch_size=1, max_pixels=bad)
