"""Image files of a folder: listing them, reading their sizes from headers, decoding them.

Moved from sources.py: what `folder_source` and `read_image` do with files, below the
`Source` they make.
"""

from __future__ import annotations

import io
import os
import types
import warnings

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from tfgen import _checks as checks
from tfgen.data import headers

# File types `tf.io.decode_image` reads (the same list as keras.utils.image_dataset_from_directory).
IMAGE_EXTENSIONS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")

# Largest image (height x width) decoded from a file: Pillow's `Image.MAX_IMAGE_PIXELS`, the
# size above which Pillow warns of a decompression bomb (about 256 MiB of 24-bit RGB pixels).
DEFAULT_MAX_PIXELS = checks.MAX_PIXELS


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
    if not checks.is_int(max_pixels) or max_pixels < 1:
        raise ValueError(
            f"max_pixels must be an int >= 1 (default {DEFAULT_MAX_PIXELS}, Pillow's limit), "
            f"got {max_pixels!r}"
        )
    return int(max_pixels)
