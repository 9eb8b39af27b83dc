"""Where images come from: tensorflow-datasets (bundled or downloaded) and folders of files.

Each source returns a `Source`: an unbatched `tf.data.Dataset` of raw elements, a function that
turns one element into an image tensor (height, width, channels), and what is known up front
(number of images, image shape, number of files) so that bad arguments fail before training.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import os
import socket
import threading
from collections.abc import Callable

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from tfgen import _global_random
from tfgen.data import builders
from tfgen.data.image_files import (
    DEFAULT_MAX_PIXELS,
    IMAGE_EXTENSIONS,
    MAX_FILE_BYTES,  # noqa: F401 (re-exported: sources.MAX_FILE_BYTES)
    _folder_classes,
    _list_images,
    _slice,
    check_max_pixels,
    decode_image_file,
    header_pixels,
    read_image,  # noqa: F401 (re-exported: sources.read_image)
)

__all__ = [
    "BUNDLED",
    "DEFAULT_MAX_PIXELS",
    "DataNotPreparedError",
    "IMAGE_EXTENSIONS",
    "Source",
    "folder_source",
    "header_pixels",
    "network_available",
    "tfds_source",
]

# Bundled offline datasets: short name -> registered tfds builder name.
_BUNDLED_BUILDERS = {
    "digits": builders.TfgenDigits.name,
    "photos": builders.TfgenPhotos.name,
}
BUNDLED = tuple(_BUNDLED_BUILDERS)

# Host probed to decide whether a tfds download can work (tfds' own mirror bucket).
_PROBE_ADDRESS = ("storage.googleapis.com", 443)
_PROBE_TIMEOUT_S = 2.0


class DataNotPreparedError(FileNotFoundError):
    """A tensorflow-datasets dataset is not prepared locally and cannot be downloaded now."""


@dataclasses.dataclass
class Source:
    """Raw elements plus what is known about them before reading any pixels.

    Attributes:
      dataset: unbatched dataset of raw elements.
      decode: maps one element to an image tensor of shape (height, width, channels).
      num_examples: number of elements (files, for a folder).
      shape: (height, width, channels) of the decoded images; None where it varies.
      default_size: (height, width) to resize to when no image_size is given; None if unknown.
      num_files: number of files the elements are read from.
      file_shardable: whether tf.data's FILE auto-sharding can split the reader by file.
      may_fail: whether decoding can fail on bad input (then bad elements are skipped).
      description: how to name this data in messages.
      dtype: dtype of the decoded images.
      label: maps one element to its int64 class index; None when labels were not asked for.
      class_names: the names of the classes, index order; None without labels.
    """

    dataset: tf.data.Dataset
    decode: Callable[[object], tf.Tensor]
    num_examples: int
    shape: tuple[int | None, int | None, int | None]
    num_files: int
    file_shardable: bool
    may_fail: bool
    description: str
    default_size: tuple[int, int] | None = None
    dtype: tf.DType = tf.uint8
    label: Callable[[object], tf.Tensor] | None = None
    class_names: tuple[str, ...] | None = None
    #: Holds only this worker's share of the files (`worker_share`): no auto-sharding.
    per_worker: bool = False


def network_available(
    address: tuple[str, int] = _PROBE_ADDRESS, timeout: float = _PROBE_TIMEOUT_S
) -> bool:
    """Whether a TCP connection to `address` opens within `timeout` seconds.

    Name resolution can block far longer than a socket timeout when no DNS server answers, so the
    whole attempt runs in a daemon thread that is abandoned after `timeout`.
    """
    result = []

    def attempt():
        try:
            with socket.create_connection(address, timeout=timeout):
                result.append(True)
        except OSError:
            result.append(False)

    thread = threading.Thread(target=attempt, daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(result and result[0])


def unknown_name_message(name: str) -> str:
    return (
        f"Unknown dataset name={name!r}. Use one of the bundled offline datasets "
        f"{', '.join(repr(b) for b in BUNDLED)} (also 'photos/crop32' and 'photos/crop128'); "
        "a tensorflow-datasets name such as 'mnist', 'cifar10' or 'celeb_a' (optionally with "
        "config and version, e.g. 'mnist:3.*.*'; see tfds.list_builders()); or "
        "'folder:/path/to/images' for a directory of image files."
    )


def resolve_tfds_name(name: str) -> str:
    """Map a bundled short name ("digits", "photos/crop32", ...) to its tfds builder name."""
    base, rest = name, ""
    for sep in ("/", ":"):
        if sep in base:
            base, tail = base.split(sep, 1)
            rest = sep + tail + rest
    return _BUNDLED_BUILDERS.get(base, base) + rest


def _not_prepared_message(builder, reason: str) -> str:
    root = os.fspath(builder.data_dir_root)
    name = builder.name
    prepared_info = os.path.join(os.path.relpath(builder.data_path, root), "dataset_info.json")
    return (
        f"Dataset {name!r} is not prepared in data_dir={root!r} (no prepared files at "
        f"{os.fspath(builder.data_path)}) and cannot be downloaded now: {reason}. To prepare it, "
        "run once on a machine with internet access, e.g. "
        f"`tfds build {name} --data_dir={root}` or "
        f"`tfgen.data.load({name!r}, data_dir={root!r}, download=True)`, and copy the "
        f"'{name}' folder there if needed; or pass data_dir= pointing at a directory that holds "
        f"a prepared copy (with '{prepared_info}'). "
        "Pass download=True to attempt the download anyway."
    )


def _make_builder(tfds_name: str, data_dir):
    try:
        return tfds.builder(tfds_name, data_dir=data_dir)
    except tfds.core.DatasetNotFoundError:
        raise ValueError(unknown_name_message(tfds_name)) from None
    except (AssertionError, ValueError) as err:  # Bad config or version.
        raise ValueError(f"Cannot build dataset name={tfds_name!r}: {err}") from None


def prepare(builder, download: bool | None) -> None:
    """Make sure `builder`'s data is on disk, downloading only when that can work.

    Bundled builders are generated from installed files. Other datasets are downloaded when
    `download` is True, or when it is None and the network answers within two seconds; otherwise
    a `DataNotPreparedError` says how to prepare the data. The cloud-bucket shortcut of tfds is
    turned off so that nothing waits on an unreachable network. Preparing leaves the global
    random generators as it found them (tfds draws a temporary folder name from Python's
    `random`), so a seeded run is the same whether or not the data had to be prepared first.
    """
    if builder.is_prepared():
        return
    offline = getattr(type(builder), "TFGEN_OFFLINE", False)
    if not offline:
        if download is False:
            raise DataNotPreparedError(_not_prepared_message(builder, "download=False"))
        if download is None and not network_available():
            host, port = _PROBE_ADDRESS
            reason = (
                f"the network is unreachable (no connection to {host}:{port} within "
                f"{_PROBE_TIMEOUT_S:g} s)"
            )
            raise DataNotPreparedError(_not_prepared_message(builder, reason))
    config = tfds.download.DownloadConfig(try_download_gcs=False)
    with _global_random.untouched():
        if not offline:
            builder.download_and_prepare(download_config=config)
            return
        # tfds would announce a download of "Unknown size": say what happens instead.
        print(
            f"Preparing the bundled dataset {builder.name!r} once, from files installed with "
            f"tfgen's dependencies (no download), in {os.fspath(builder.data_dir_root)!r}; "
            "later runs read it from there.",
            flush=True,
        )
        with contextlib.redirect_stdout(io.StringIO()):
            builder.download_and_prepare(download_config=config)


def _image_key(builder, image_key: str | None) -> str:
    features = builder.info.features
    keys = [k for k, f in features.items() if isinstance(f, tfds.features.Image)]
    if image_key is not None:
        if image_key not in keys:
            raise ValueError(
                f"image_key={image_key!r} is not an image feature of {builder.name!r}; "
                f"image features: {keys}"
            )
        return image_key
    if "image" in keys:
        return "image"
    if len(keys) == 1:
        return keys[0]
    raise ValueError(
        f"Dataset {builder.name!r} has image features {keys}; pass image_key= to pick one."
        if keys
        else f"Dataset {builder.name!r} has no image feature (features: {list(features)})."
    )


def tfds_source(
    name: str,
    split: str,
    data_dir,
    download: bool | None,
    shuffle: bool,
    seed: int | None,
    input_context,
    image_key: str | None,
    with_labels: bool = False,
) -> Source:
    """Source for a tensorflow-datasets name (bundled names are resolved to their builders)."""
    builder = _make_builder(resolve_tfds_name(name), data_dir)
    prepare(builder, download)
    try:
        split_info = builder.info.splits[split]
    except (KeyError, ValueError, AssertionError) as err:
        raise ValueError(
            f"split={split!r} is not available for {builder.name!r} "
            f"(splits: {list(builder.info.splits)}): {err}"
        ) from None
    key = _image_key(builder, image_key)
    feature = builder.info.features[key]
    read_config = tfds.ReadConfig(
        shuffle_seed=seed,
        try_autocache=False,  # The pipeline caches after resizing.
        skip_prefetch=True,
        input_context=input_context,
        # Bundled datasets are stored in order; shuffling their files is still wanted.
        enable_ordering_guard=False,
    )
    num_files = len(split_info.file_instructions)
    dataset = builder.as_dataset(
        split=split, shuffle_files=shuffle and num_files > 1, read_config=read_config
    )
    num_examples = int(split_info.num_examples)
    if input_context is not None:
        num_examples //= max(1, input_context.num_input_pipelines)
    label, class_names = None, None
    if with_labels:
        label_key = _label_key(builder)
        class_names = tuple(builder.info.features[label_key].names)
        label = lambda example: tf.cast(example[label_key], tf.int64)  # noqa: E731
    return Source(
        dataset=dataset,
        label=label,
        class_names=class_names,
        decode=lambda example: example[key],
        num_examples=num_examples,
        shape=tuple(feature.shape),
        num_files=num_files,
        file_shardable=True,
        may_fail=False,
        description=f"split {split!r} of {builder.name!r}",
        default_size=tuple(feature.shape[:2]) if None not in feature.shape[:2] else None,
        dtype=feature.tf_dtype,
    )


def _label_key(builder) -> str:
    """The class-label feature of a tfds dataset: "label", or its only `ClassLabel`."""
    features = builder.info.features
    keys = [k for k, f in features.items() if isinstance(f, tfds.features.ClassLabel)]
    if "label" in keys:
        return "label"
    if len(keys) == 1:
        return keys[0]
    raise ValueError(
        f"with_labels=True needs a class-label feature, but {builder.name!r} has "
        + (f"several {keys}" if keys else f"none (features: {list(features)})")
    )


def _probe(files, root, max_pixels=DEFAULT_MAX_PIXELS, limit=100) -> tuple[int, int, int]:
    """Shape (height, width, channels) of the first of `files` that decodes."""
    for path in files[:limit]:
        try:
            image = decode_image_file(path, max_pixels=max_pixels)
        except (tf.errors.OpError, ValueError):
            continue
        return tuple(int(d) for d in image.shape)
    raise ValueError(
        f"None of the first {min(limit, len(files))} image files in folder {root!r} could be "
        f"decoded within max_pixels={max_pixels}; the folder must contain readable "
        ".png/.jpg/.jpeg/.bmp/.gif files."
    )


def worker_share() -> tuple[int, int]:
    """(index, count) of this process among the workers of the multi-worker cluster that the
    TF_CONFIG variable describes (the chief first, as `MultiWorkerMirroredStrategy` numbers
    them), or (0, 1) outside such a cluster."""
    if not os.environ.get("TF_CONFIG"):
        return 0, 1
    resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()
    cluster = resolver.cluster_spec()
    jobs = [job for job in ("chief", "worker") if job in cluster.jobs]
    count = sum(cluster.num_tasks(job) for job in jobs)
    if count <= 1 or resolver.task_type not in jobs:
        return 0, 1
    chiefs = cluster.num_tasks("chief") if "chief" in jobs else 0
    index = resolver.task_id + (chiefs if resolver.task_type == "worker" else 0)
    return index, count


def folder_source(
    path: str,
    split: str,
    shuffle: bool,
    seed: int | None,
    input_context,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    with_labels: bool = False,
    share: tuple[int, int] = (0, 1),
) -> Source:
    """Source for a directory of image files, searched recursively (class sub-folders or not).

    With `with_labels` each first-level sub-folder is a class, numbered in sorted name order.

    Files are listed in sorted order (so splits and seeded runs are reproducible) and decoded
    with `tf.io.decode_image`; grey images are read with one channel when the first readable
    file is grey, otherwise every file is read as RGB (alpha dropped). Files whose header
    declares more than `max_pixels` pixels fail to decode without being decoded (`load` skips
    and counts them with the unreadable ones).

    `share` = (index, count) of this worker among `count` (`worker_share`): with at least one
    file per worker, the worker lists every count-th file from its index and reads only those
    (`per_worker`); with fewer, it lists them all and `load` shards by data.
    """
    check_max_pixels(max_pixels)
    root = os.path.expanduser(path)
    if not os.path.isdir(root):
        raise ValueError(f"name='folder:{path}': {root!r} is not a directory")
    files = _list_images(root)
    if not files:
        raise ValueError(
            f"name='folder:{path}': no image files ({', '.join(IMAGE_EXTENSIONS)}) found in "
            f"{root!r} or its sub-folders"
        )
    class_names, label_of = None, None
    if with_labels:
        # Classes come from the whole folder, so every split numbers them alike.
        class_names, labels = _folder_classes(root, files)
        label_of = dict(zip(files, labels, strict=True))
    files = _slice(files, split, root)
    if input_context is not None:
        files = files[input_context.input_pipeline_id :: input_context.num_input_pipelines]
    index, count = share
    per_worker = input_context is None and count > 1 and len(files) >= count
    if per_worker:
        files = files[index::count]
    if not files:
        raise ValueError(f"split={split!r} selects no files of folder {root!r}")
    height, width, channels = _probe(files, root, max_pixels)
    channels = 1 if channels in (1, 2) else 3

    def decode(element):
        filename = element["file"] if with_labels else element
        image = decode_image_file(filename, channels, max_pixels)
        image.set_shape((None, None, channels))
        return image

    elements = files
    if with_labels:
        elements = {"file": files, "label": np.array([label_of[f] for f in files], np.int64)}
    dataset = tf.data.Dataset.from_tensor_slices(elements)
    if shuffle:
        # Shuffling names is cheap; it spreads classes before any shuffle buffer of pixels.
        dataset = dataset.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
    return Source(
        dataset=dataset,
        decode=decode,
        num_examples=len(files),
        shape=(None, None, channels),
        num_files=len(files),
        # tf.data's FILE policy only recognises record readers (TFRecordDataset, ...), not
        # tf.io.read_file: a folder is sharded here, per worker (or by input_context).
        file_shardable=False,
        per_worker=per_worker,
        may_fail=True,
        description=f"folder {root!r}",
        default_size=(height, width),
        label=(lambda element: element["label"]) if with_labels else None,
        class_names=class_names,
    )
