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
import types
import warnings
from collections.abc import Callable

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from tfgen import _checks as checks
from tfgen import _global_random
from tfgen.data import builders, headers

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

# File types `tf.io.decode_image` reads (the same list as keras.utils.image_dataset_from_directory).
IMAGE_EXTENSIONS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")

# Largest image (height x width) decoded from a file: Pillow's `Image.MAX_IMAGE_PIXELS`, the
# size above which Pillow warns of a decompression bomb (about 256 MiB of 24-bit RGB pixels).
DEFAULT_MAX_PIXELS = checks.MAX_PIXELS

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


def _folder_classes(root: str, files: list[str]) -> tuple[tuple[str, ...], list[int]]:
    """Class names (the sorted sub-folders holding images) and each file's class index."""
    top = [os.path.relpath(f, root).split(os.sep)[0] for f in files]
    loose = [f for f, t in zip(files, top, strict=True) if os.path.join(root, t) == f]
    if loose:
        raise ValueError(
            f"with_labels=True needs one sub-folder per class in folder {root!r}, but "
            f"{len(loose)} image files lie directly in it (e.g. {loose[0]!r})"
        )
    names = tuple(sorted(set(top)))
    index = {name: i for i, name in enumerate(names)}
    return names, [index[t] for t in top]


def _identity(path: str):
    """(device, inode) of what `path` leads to, or None when it leads nowhere."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_dev, stat.st_ino


def _list_images(root: str) -> list[str]:
    """The image files under `root`, links followed, each folder and each file read once.

    A symbolic link back to a folder already read (a loop, or a second way to one folder) is
    not entered again, and a file reached twice (links, hard links) is listed once; one
    warning counts what was cut.
    """
    files, seen_folders, seen_files = [], set(), set()
    cut_folders = repeated_files = 0
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        folder = _identity(dirpath)
        if folder in seen_folders:
            dirnames[:] = []
            cut_folders += 1
            continue
        seen_folders.add(folder)
        dirnames.sort()
        for name in sorted(filenames):
            if not name.lower().endswith(IMAGE_EXTENSIONS) or name.startswith("."):
                continue
            path = os.path.join(dirpath, name)
            identity = _identity(path)
            if identity is not None and identity in seen_files:
                repeated_files += 1
                continue
            seen_files.add(identity)
            files.append(path)
    if cut_folders or repeated_files:
        warnings.warn(
            f"folder {root!r}: {cut_folders} linked folders already read (symbolic-link loops "
            f"or repeats) were not entered again and {repeated_files} files reached twice were "
            "listed once; every image is read once.",
            UserWarning,
            stacklevel=5,  # load or class_names -> open_source -> folder_source -> here
        )
    return files


def _slice(files: list[str], split: str, root: str) -> list[str]:
    """Apply a tfds-style split spec ("train", "train[:90%]", "train[-100:]") to a file list."""
    infos = {"train": types.SimpleNamespace(num_examples=len(files), shard_lengths=[len(files)])}
    try:
        instructions = tfds.core.ReadInstruction.from_spec(split).to_absolute(infos)
    except (ValueError, AssertionError, KeyError) as err:
        raise ValueError(
            f"split={split!r} is not valid for folder {root!r}: a folder is one split named "
            f"'train', which may be sliced like 'train[:90%]' or 'train[-100:]' ({err})"
        ) from None
    return [f for ins in instructions for f in files[ins.from_ : ins.to]]


def _unsigned(contents, offset, length, little_endian):
    """The unsigned integer of `length` (2 or 4) bytes at `offset` of a byte string tensor."""
    raw = tf.io.decode_raw(tf.strings.substr(contents, offset, length), tf.uint8)
    raw = tf.cast(raw, tf.int64)
    if little_endian:
        raw = tf.reverse(raw, [0])
    return tf.reduce_sum(
        raw * tf.constant([256 ** (length - 1 - i) for i in range(length)], tf.int64)
    )


def header_pixels(contents):
    """Pixels (height x width, int64) an encoded image declares in its header, read undecoded.

    PNG: the IHDR chunk's width and height (big-endian, bytes 16-23); BMP: the DIB header's
    width and height (little-endian 32-bit, bytes 18-25, the height's sign gives the row
    order); JPEG: the frame header, read by `tf.image.extract_jpeg_shape`; GIF and WebP: every
    frame times the canvas that holds them all (`tfgen.data.headers`, which walks the blocks;
    for a GIF the logical screen alone can be 1 x 1 above a 12000 x 12000 frame). Anything
    else, or a file too short for its header, gives 0 (`decode_image_file` refuses it).
    """
    contents = tf.convert_to_tensor(contents, tf.string)
    size = tf.strings.length(contents)
    head = tf.strings.substr(contents, 0, 8)

    def png():
        # PNG allows sides up to 2**31 - 1; clamped so the product cannot overflow int64.
        width = tf.minimum(_unsigned(contents, 16, 4, False), 2**31)
        return width * tf.minimum(_unsigned(contents, 20, 4, False), 2**31)

    def walked(walker):
        def count():
            pixels = tf.py_function(lambda data: walker(data.numpy()), [contents], tf.int64)
            return tf.reshape(pixels, [])

        return count

    def bmp():
        width = _unsigned(contents, 18, 4, True)
        height = _unsigned(contents, 22, 4, True)
        height = tf.where(height >= 2**31, 2**32 - height, height)  # top-down rows: negative
        width = tf.where(width >= 2**31, 2**32 - width, width)
        return width * height

    def jpeg():
        shape = tf.cast(tf.image.extract_jpeg_shape(contents), tf.int64)
        return shape[0] * shape[1]

    def unknown():
        return tf.constant(0, tf.int64)

    is_png = tf.logical_and(tf.equal(head, b"\x89PNG\r\n\x1a\n"), size >= 24)
    is_gif = tf.logical_and(tf.equal(tf.strings.substr(head, 0, 3), b"GIF"), size >= 10)
    is_bmp = tf.logical_and(tf.equal(tf.strings.substr(head, 0, 2), b"BM"), size >= 26)
    is_webp = tf.logical_and(
        tf.equal(tf.strings.substr(contents, 0, 4), b"RIFF"),
        tf.equal(tf.strings.substr(contents, 8, 4), b"WEBP"),
    )
    return tf.case(
        [
            (is_png, png),
            (is_gif, walked(headers.gif_pixels)),
            (is_bmp, bmp),
            (tf.image.is_jpeg(contents), jpeg),
            (is_webp, walked(headers.webp_pixels)),
        ],
        default=unknown,
        exclusive=False,
    )


def decode_image_file(filename, channels=None, max_pixels=DEFAULT_MAX_PIXELS):
    """Decodes one image file, refusing (InvalidArgumentError) one above `max_pixels` pixels.

    The size comes from the headers (`header_pixels`) before any pixel is decoded, so a small
    file that declares a huge image costs no memory; a file whose format is not recognised
    (0 pixels) is refused too, before any decoder sees it.
    """
    contents = tf.io.read_file(filename)
    pixels = header_pixels(contents)
    guards = [
        tf.debugging.assert_less_equal(
            pixels,
            tf.constant(max_pixels, tf.int64),
            message=f"the image holds more than max_pixels={max_pixels} pixels",
        ),
        tf.debugging.assert_positive(pixels, message="not a PNG, JPEG, GIF, BMP or WebP image"),
    ]
    with tf.control_dependencies(guards):
        return tf.io.decode_image(contents, channels=channels, expand_animations=False)


#: Largest image file read whole into memory by `read_image`.
MAX_FILE_BYTES = 2**30


def read_image(path, argument="image", max_pixels=DEFAULT_MAX_PIXELS) -> np.ndarray:
    """An image file as a uint8 RGB array (height, width, 3), read with Pillow, or a ValueError
    naming `argument` and the file: not a file, larger than `MAX_FILE_BYTES`, not an image
    Pillow reads, or declaring more than `max_pixels` pixels (every frame times the canvas for
    GIF and WebP, `tfgen.data.headers`), checked before any pixel is decoded.
    """
    from PIL import Image  # noqa: PLC0415  (Pillow is needed only here)

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"{argument} {path!r} is not a file")
    if os.path.getsize(path) > MAX_FILE_BYTES:
        raise ValueError(f"{argument} {path!r} is larger than {MAX_FILE_BYTES:,} bytes")
    with open(path, "rb") as file:
        data = file.read()

    def refuse_above_max(pixels):
        if pixels > max_pixels:
            raise ValueError(
                f"{argument} {path!r} declares {pixels:,} pixels, more than "
                f"max_pixels={max_pixels:,}"
            )

    if data[:3] == b"GIF":
        refuse_above_max(headers.gif_pixels(data))
    elif data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        refuse_above_max(headers.webp_pixels(data))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as opened:
                refuse_above_max(opened.size[0] * opened.size[1])
                return np.asarray(opened.convert("RGB"))
    except (OSError, Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise ValueError(
            f"{argument} {path!r} is not a readable image ({type(error).__name__}: {error})"
        ) from None


def check_max_pixels(max_pixels):
    """`max_pixels` if it is an int >= 1, else a ValueError naming it."""
    if isinstance(max_pixels, bool) or not isinstance(max_pixels, int) or max_pixels < 1:
        raise ValueError(
            f"max_pixels must be an int >= 1 (default {DEFAULT_MAX_PIXELS}, Pillow's limit), "
            f"got {max_pixels!r}"
        )
    return max_pixels


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
