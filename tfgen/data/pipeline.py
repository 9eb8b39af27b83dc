"""`load`: one input pipeline for tensorflow-datasets names, bundled data and image folders."""

from __future__ import annotations

import os

import tensorflow as tf
from absl import logging

from tfgen import _checks as checks
from tfgen.data import photos, sources
from tfgen.data.decoding import FITS, _as_size, _skip_and_count, preprocess

__all__ = ["FITS", "class_names", "load"]

AUTOTUNE = tf.data.AUTOTUNE

#: Whether tf.data's autotuner runs in tfgen's pipelines. Off: on a 2-core CPU it slowed the
#: training step it feeds in about half of the `fit` calls, to a steady 25.5 ms instead of
#: 16-17 ms (XLA or not; benchmarks/gan_throughput.py's DCGAN, 10 fits of 100 steps each way,
#: median 57 against 40-47 steps/s), with CPU left idle. Without it, each AUTOTUNE parallelism
#: is the core count and each AUTOTUNE prefetch a fixed buffer; the pipelines then delivered
#: as many images per second as with it (benchmarks/input_pipeline.py).
AUTOTUNE_ENABLED = False

_DEFAULT_SHUFFLE_BUFFER = 10_000
_CACHED_SHUFFLE_BUFFER = 100_000
# A larger buffer would hold more images than any dataset tfgen reads in memory.
_MAX_SHUFFLE_BUFFER = 10_000_000


def cache_limit_bytes() -> int:
    """Largest dataset (uint8 pixels) cached in memory by `cache=True`: a quarter of the RAM."""
    return checks.memory_bytes() // 4


def _check_args(
    name, image_size, channels, batch_size, value_range, fit, repeat, cache, download, max_pixels
):
    if not isinstance(name, str) or not name:
        raise ValueError(f"name must be a non-empty string, got {name!r}")
    size = _as_size(image_size)
    if size is not None:
        checks.image_pixels(size, "image_size", max_pixels)
    if channels is not None and (not checks.is_int(channels) or channels not in (1, 3)):
        raise ValueError(f"channels must be 1, 3 or None (keep the source's), got {channels!r}")
    checks.positive_int(batch_size, "batch_size")
    if size is not None:  # Again with the real channels once the source is known.
        checks.batch_fits(batch_size, (*size, channels or 1))
    try:
        low, high = (float(v) for v in value_range)
    except (TypeError, ValueError):
        low = high = None
    if low is None or not low < high:
        raise ValueError(
            f"value_range must be a pair (low, high) with low < high, got {value_range!r}"
        )
    if fit not in FITS:
        raise ValueError(f"fit must be one of {FITS}, got {fit!r}")
    if not isinstance(repeat, bool) and (not checks.is_int(repeat) or repeat <= 0):
        raise ValueError(f"repeat must be a bool or a positive int, got {repeat!r}")
    if not isinstance(cache, bool | str | os.PathLike):
        raise ValueError(f"cache must be a bool or a file path, got {cache!r}")
    if download not in (None, True, False):
        raise ValueError(f"download must be None (auto), True or False, got {download!r}")
    return size, (low, high)


def _check_shuffle_buffer(shuffle_buffer):
    if shuffle_buffer is not None:
        checks.positive_int(shuffle_buffer, "shuffle_buffer", _MAX_SHUFFLE_BUFFER)


def load(
    name: str,
    split: str = "train",
    image_size=None,
    channels: int | None = None,
    batch_size: int = 64,
    shuffle: bool = True,
    repeat: bool | int = False,
    data_dir=None,
    cache: bool | str = True,
    seed: int | None = None,
    value_range=(-1, 1),
    drop_remainder: bool = True,
    fit: str = "resize",
    download: bool | None = None,
    image_key: str | None = None,
    shuffle_buffer: int | None = None,
    input_context: tf.distribute.InputContext | None = None,
    max_pixels: int = sources.DEFAULT_MAX_PIXELS,
    with_labels: bool = False,
    held_out=None,
) -> tf.data.Dataset:
    """Batches of images, float32 in `value_range`, ready for `model.fit`.

    Args:
      name: where the images come from:
        - "digits": bundled offline data, the tfds builder `tfgen_digits` (see
          `tfgen.data.builders`), prepared on first use from files installed with scikit-learn;
        - "photos" (also "photos/crop<N>", crops of N pixels, default 64, and
          "photos/crop<N>-<M>", training crops of random sides shrunk to N): crops of the ten
          photographs scikit-learn, matplotlib and scikit-image ship (see `tfgen.data.photos`
          for which is in which split): "train" draws new random crops, flips and 90-degree
          turns every epoch from the training photographs, "test" tiles the held-out ones;
        - any tensorflow-datasets name ("mnist", "cifar10", "celeb_a", "mnist:3.*.*", ...),
          read from `data_dir` and downloaded there when missing (see `download`);
        - "folder:/path/to/images": png/jpg/bmp/gif files in a directory and its sub-folders
          (class sub-folders are fine; see `with_labels`). Files that cannot be decoded, or
          whose header declares more than `max_pixels` pixels, are skipped, with one warning
          giving their number at the end of the first pass.
      split: tfds split spec ("train", "test", "train[:90%]", ...). A folder is a single split
        named "train" that may be sliced the same way.
      image_size: int or (height, width) to bring every image to (see `fit`); None keeps the
        dataset's size (for a folder, the size of its first readable image).
      channels: 1 or 3 to convert to; None keeps the source's (alpha is always dropped).
      batch_size: images per batch (global batch when used with a distribution strategy).
      shuffle: shuffle files and examples.
      repeat: True repeats forever, an int that many epochs, False one epoch.
      data_dir: tfds data directory; None uses tfds' default (`$TFDS_DATA_DIR` or
        `~/tensorflow_datasets`). Bundled data is generated there on first use.
      cache: True caches the decoded, resized uint8 images in memory when they fit in a quarter
        of the RAM (otherwise a warning is logged and nothing is cached); a path caches to
        files there; False does not cache.
      seed: seed for file and example shuffling; with a seed (or with shuffle=False) the order
        is reproducible, without one parallel stages may deliver out of order for speed.
      value_range: (low, high) the pixel range 0..255 is mapped to; (-1, 1) for models, (0, 1)
        for display.
      drop_remainder: drop the last partial batch, so every batch has a static size (needed by
        compiled training steps and by distribution strategies).
      fit: "resize" (antialiased), "crop_resize" (central crop to the aspect ratio, then
        resize) or "center_crop" (central window, no scaling).
      download: for tfds data that is not prepared: None downloads only when the network
        answers within about two seconds (otherwise a `DataNotPreparedError` says how to
        prepare the data), True always tries, False never downloads.
      image_key: which image feature of a tfds dataset to use; default "image" or the only one.
      shuffle_buffer: examples in the shuffle buffer; default all of them when cached in
        memory (up to 100,000), else up to 10,000.
      input_context: a `tf.distribute.InputContext` (from
        `strategy.distribute_datasets_from_function`): each input pipeline then reads its own
        share of the files and `batch_size` is divided into the per-replica batch size.
      max_pixels: largest image (height x width) decoded from a folder, read from the file's
        header before decoding; default 89,478,485, Pillow's `Image.MAX_IMAGE_PIXELS`, so that
        a small file declaring a huge image cannot exhaust memory.
      with_labels: yield `(images, labels)` batches, labels int64 (batch,) class indices in
        [0, K), for a conditional model. A tfds dataset needs a class-label feature ("label",
        or its only `ClassLabel`); a folder needs one sub-folder per class, classes numbered
        in the sorted order of the sub-folder names (every file inside a class folder, at any
        depth, has its class); the bundled digits have their digit. `class_names(name)` gives
        the classes, K = its length. For "photos" the labels come from the tfds builder
        `tfgen_photos` instead (fixed crops of china, flower and grace_hopper, labelled by
        photograph).
      held_out: "photos" only: the names of the photographs of the test split, never in the
        training split; default `tfgen.data.photos.HELD_OUT`.

    Returns:
      A `tf.data.Dataset` of float32 tensors of shape (batch, height, width, channels) (with
      `with_labels`, pairs of such images and int64 labels (batch,)). In a multi-worker
      cluster (TF_CONFIG) each worker reads only its share when there are enough files: a
      shuffled folder of at least one file per worker is split by file when listed (each
      worker decodes its own files); tfds record files, at least one per worker, are split by
      tf.data's FILE auto-shard policy. Otherwise (fewer files, in-memory data) the policy
      is DATA: each worker keeps every n-th element. So
      `strategy.experimental_distribute_dataset` works either way, and one epoch over all
      workers reads each image once.

    Raises:
      ValueError: bad arguments, unknown name, empty folder, or a batch larger than the data.
      DataNotPreparedError: a tfds dataset is not prepared and cannot be downloaded now.
    """
    sources.check_max_pixels(max_pixels)
    size, (low, high) = _check_args(
        name,
        image_size,
        channels,
        batch_size,
        value_range,
        fit,
        repeat,
        cache,
        download,
        max_pixels,
    )
    _check_shuffle_buffer(shuffle_buffer)
    seed = checks.seed(seed)
    for argument, value in dict(
        shuffle=shuffle, drop_remainder=drop_remainder, with_labels=with_labels
    ).items():
        checks.boolean(value, argument)
    deterministic = seed is not None or not shuffle
    if photos.is_photos(name) and not with_labels:
        return _load_photos(
            name,
            split,
            size,
            channels,
            batch_size,
            shuffle,
            repeat,
            seed,
            (low, high),
            drop_remainder,
            fit,
            input_context,
            held_out,
        )
    if held_out is not None:
        raise ValueError(f"held_out is for the bundled 'photos' only, got it for {name!r}")
    source = open_source(
        name,
        split,
        shuffle,
        seed,
        data_dir,
        download,
        image_key,
        input_context,
        max_pixels,
        with_labels,
    )
    shape = output_shape(source, size, channels)
    checks.batch_fits(batch_size, shape)
    per_pipeline_batch = batch_size
    if input_context is not None:
        per_pipeline_batch = input_context.get_per_replica_batch_size(batch_size)
    if drop_remainder and not repeat and per_pipeline_batch > source.num_examples:
        raise ValueError(
            f"batch_size={batch_size} is larger than the {source.num_examples} images of "
            f"{source.description}: with drop_remainder=True not a single batch would be "
            "produced. Use a smaller batch_size, drop_remainder=False or repeat=True."
        )
    ds = decode_and_skip(source, shape, channels, fit, deterministic)
    ds, in_memory = cache_images(ds, cache, source.num_examples, shape, source.description)
    if shuffle:
        ds = shuffle_images(ds, source.num_examples, seed, shuffle_buffer, in_memory)
    ds = batch_images(ds, per_pipeline_batch, (low, high), repeat, drop_remainder, deterministic)
    return ds.with_options(_options(source, input_context, deterministic))


def _load_photos(
    name,
    split,
    size,
    channels,
    batch_size,
    shuffle,
    repeat,
    seed,
    value_range,
    drop_remainder,
    fit,
    input_context,
    held_out,
):
    """`load` for the bundled photographs (`tfgen.data.photos`)."""
    stream_seed = checks.seed_or_random(seed)
    ds, count, crop = photos.crops(name, split, stream_seed, held_out)
    deterministic = seed is not None or not shuffle
    per_pipeline_batch = batch_size
    if input_context is not None:
        per_pipeline_batch = input_context.get_per_replica_batch_size(batch_size)
        ds = ds.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
        count //= input_context.num_input_pipelines
    if drop_remainder and not repeat and per_pipeline_batch > count:
        raise ValueError(
            f"batch_size={batch_size} is larger than the {count} crops of the {split} split of "
            f"{name!r}: with drop_remainder=True not a single batch would be produced. Use a "
            "smaller batch_size, drop_remainder=False or repeat=True."
        )
    if size is not None or channels is not None:
        ds = ds.map(
            lambda image: preprocess(image, size or (crop, crop), channels, fit),
            num_parallel_calls=AUTOTUNE,
            deterministic=deterministic,
        )
    if shuffle and split == "test":  # training crops are drawn in random order already
        ds = ds.cache().shuffle(count, seed=seed, reshuffle_each_iteration=True)
    ds = batch_images(ds, per_pipeline_batch, value_range, repeat, drop_remainder, deterministic)
    options = tf.data.Options()
    policy = tf.data.experimental.AutoShardPolicy
    options.experimental_distribute.auto_shard_policy = (
        policy.OFF if input_context is not None else policy.DATA
    )
    options.deterministic = deterministic
    options.autotune.enabled = AUTOTUNE_ENABLED
    return ds.with_options(options)


def class_names(name: str, split: str = "train", data_dir=None, download=None) -> tuple:
    """The classes `load(name, with_labels=True)` numbers 0 to K - 1, as a tuple of K names.

    A tfds dataset's class-label names (the digits: "0" to "9"), or a folder's sorted class
    sub-folder names. Raises ValueError where `load(..., with_labels=True)` would.
    """
    source = open_source(name, split, False, None, data_dir, download, None, None, with_labels=True)
    return source.class_names


# ---------------------------------------------------------------------------------------------
# The stages of `load`, in order.


def open_source(
    name,
    split,
    shuffle,
    seed,
    data_dir,
    download,
    image_key,
    input_context,
    max_pixels=sources.DEFAULT_MAX_PIXELS,
    with_labels=False,
):
    """The `sources.Source` `name` names: an image folder ("folder:<path>") or tfds data."""
    if name.startswith("folder:"):
        path = name[len("folder:") :]
        return sources.folder_source(
            path,
            split,
            shuffle,
            seed,
            input_context,
            max_pixels,
            with_labels,
            # Shuffled reads are training streams; an ordered one (reference images for
            # scores, which every worker computes whole) is read whole on each worker.
            share=sources.worker_share() if shuffle else (0, 1),
        )
    return sources.tfds_source(
        name, split, data_dir, download, shuffle, seed, input_context, image_key, with_labels
    )


def output_shape(source, size, channels) -> tuple[int, int, int]:
    """(height, width, channels) of the images `load` delivers from `source`.

    `size` None keeps the source's size; `channels` None keeps its channels without alpha.
    """
    size = size if size is not None else source.default_size
    if size is None:
        raise ValueError(
            f"The images of {source.description} vary in size; pass image_size= to resize them."
        )
    source_channels = source.shape[-1]
    if source_channels is None and channels is None:
        raise ValueError(f"The images of {source.description} vary in channels; pass channels=.")
    out_channels = channels or {2: 1, 4: 3}.get(source_channels, source_channels)
    return (size[0], size[1], out_channels)


def decode_and_skip(source, shape, channels, fit, deterministic) -> tf.data.Dataset:
    """uint8 images of `shape`, decoded and preprocessed; unreadable files skipped and counted."""

    def decode(element):
        image = preprocess(source.decode(element), shape[:2], channels, fit)
        return image if source.label is None else (image, source.label(element))

    ds = source.dataset.map(decode, num_parallel_calls=AUTOTUNE, deterministic=deterministic)
    if source.may_fail:
        ds = _skip_and_count(ds, source.num_examples, shape, source.description)
    return ds


def cache_images(ds, cache, num_examples, shape, description) -> tuple[tf.data.Dataset, bool]:
    """`ds` cached as `cache` asks; returns it and whether it is cached in memory.

    A path caches to files there; True caches in memory only when the uint8 pixels fit in
    `cache_limit_bytes()` (else a warning is logged); False leaves `ds` alone.
    """
    if isinstance(cache, str | os.PathLike):
        return ds.cache(os.fspath(cache)), False
    if not cache:
        return ds, False
    needed = num_examples * shape[0] * shape[1] * shape[2]
    if needed <= cache_limit_bytes():
        return ds.cache(), True
    logging.warning(
        "Not caching %s in memory: %.1f GiB of pixels exceed the limit of %.1f GiB; pass "
        "cache=<path> to cache on disk.",
        description,
        needed / 2**30,
        cache_limit_bytes() / 2**30,
    )
    return ds, False


def shuffle_buffer_size(num_examples, shuffle_buffer=None, cached_in_memory=False) -> int:
    """`shuffle_buffer`, or by default every example up to 100,000 in memory, 10,000 else."""
    limit = _CACHED_SHUFFLE_BUFFER if cached_in_memory else _DEFAULT_SHUFFLE_BUFFER
    return shuffle_buffer or max(1, min(num_examples, limit))


def shuffle_images(ds, num_examples, seed, shuffle_buffer=None, cached_in_memory=False):
    """`ds` shuffled anew every pass through a buffer of `shuffle_buffer_size` examples."""
    buffer = shuffle_buffer_size(num_examples, shuffle_buffer, cached_in_memory)
    return ds.shuffle(buffer, seed=seed, reshuffle_each_iteration=True)


def batch_images(ds, batch_size, value_range, repeat, drop_remainder, deterministic):
    """Repeated, batched, uint8 0..255 mapped linearly to float32 `value_range`, prefetched."""
    if repeat:
        ds = ds.repeat(None if repeat is True else repeat)
    ds = ds.batch(
        batch_size,
        drop_remainder=drop_remainder,
        num_parallel_calls=AUTOTUNE,
        deterministic=deterministic,
    )
    low, high = value_range
    scale = (high - low) / 255.0

    def normalise(batch, *labels):
        images = tf.cast(batch, tf.float32) * scale + low
        return (images, *labels) if labels else images

    ds = ds.map(normalise, num_parallel_calls=AUTOTUNE, deterministic=deterministic)
    return ds.prefetch(AUTOTUNE)


def _options(source, input_context, deterministic) -> tf.data.Options:
    """Determinism, the auto-shard policy fitting `source` (see `load`'s Returns), no autotuner."""
    options = tf.data.Options()
    policy = tf.data.experimental.AutoShardPolicy
    if input_context is not None or source.per_worker:
        options.experimental_distribute.auto_shard_policy = policy.OFF  # Sharded by the source.
    elif source.file_shardable and source.num_files >= max(2, sources.worker_share()[1]):
        options.experimental_distribute.auto_shard_policy = policy.FILE
    else:
        options.experimental_distribute.auto_shard_policy = policy.DATA
    options.deterministic = deterministic
    options.autotune.enabled = AUTOTUNE_ENABLED
    return options
