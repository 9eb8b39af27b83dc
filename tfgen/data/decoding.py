"""Turning decoded images into uint8 images of one size and channels, counting unreadable ones.

Moved from pipeline.py: `preprocess` (what `load` does to every image) and its helpers, and the
count of files `load` skips.
"""

from __future__ import annotations

import warnings

import tensorflow as tf

from tfgen import images

# How an image is brought to `image_size`.
FITS = ("resize", "crop_resize", "center_crop")

_LUMA = images.LUMA_WEIGHTS


def _as_size(image_size) -> tuple[int, int] | None:
    return None if image_size is None else images.image_size(image_size, "image_size")


def _resize(image, size):
    """Antialiased bilinear resize to `size`, skipped when the image already has that size."""

    def resize():
        return images.resize(image, size)

    static = tuple(image.shape[:2])
    if None not in static:
        return image if static == tuple(size) else resize()
    shape = tf.shape(image)
    same = tf.logical_and(tf.equal(shape[0], size[0]), tf.equal(shape[1], size[1]))
    out = tf.cond(same, lambda: image, resize)
    out.set_shape((size[0], size[1], image.shape[-1]))
    return out


def _crop_to_aspect(image, size):
    """Largest central box of `image` with the aspect ratio of `size`."""
    return images.crop_to_aspect(image, size)


def preprocess(image, size, channels, fit):
    """Bring one uint8 image to `size` and `channels`; returns uint8 (height, width, channels).

    Channel conversion: alpha is dropped; grey -> RGB repeats the channel; RGB -> grey uses the
    ITU-R BT.601 luma weights. `fit`: "resize" scales (aspect ratio may change) with an
    antialiased bilinear filter; "crop_resize" first crops the largest central box with the
    target aspect ratio, then scales; "center_crop" takes the central `size` window without
    scaling (padding with zeros where the image is smaller). Pixels are rounded back to uint8
    once, after all float arithmetic.
    """
    size = _as_size(size)
    if fit not in FITS:
        raise ValueError(f"fit must be one of {FITS}, got {fit!r}")
    if image.dtype != tf.uint8:
        image = tf.image.convert_image_dtype(image, tf.uint8, saturate=True)
    source_channels = image.shape[-1]
    if source_channels in (2, 4):  # Drop alpha.
        image = image[..., : source_channels - 1]
        source_channels -= 1
    x = image
    if channels is not None and channels != source_channels:
        x = tf.cast(x, tf.float32)
        if channels == 3:
            x = tf.tile(x, [1, 1, 3])
        else:
            x = tf.reduce_sum(x * tf.constant(_LUMA), axis=-1, keepdims=True)
    if size is not None and tuple(image.shape[:2]) != tuple(size):
        if fit == "center_crop":
            x = tf.image.resize_with_crop_or_pad(x, size[0], size[1])
        else:
            if fit == "crop_resize":
                x = _crop_to_aspect(x, size)
            x = _resize(tf.cast(x, tf.float32), size)
    if x.dtype != tf.uint8:
        x = tf.cast(tf.clip_by_value(tf.round(x), 0.0, 255.0), tf.uint8)
    return x


def _skip_and_count(dataset, expected, shape, description):
    """Drop elements whose decoding failed and warn once, at the end of a pass, with the count.

    tf.data's `ignore_errors` drops failing elements silently; counting the survivors needs to
    know where a pass ends, so a marked end element is appended and counted through `scan`, and
    the warning is issued from Python when that marker arrives.
    """
    warned = []

    def report(count):
        skipped = expected - int(count)
        if skipped > 0 and not warned:
            warned.append(skipped)
            warnings.warn(
                f"Skipped {skipped} of {expected} image files of {description} that could not "
                "be read or decoded, or declare more than max_pixels pixels.",
                UserWarning,
                stacklevel=1,  # Called from a tf.data thread: no user frame to point at.
            )
        return True

    def mark(*element):  # an (image, label) element arrives as two arguments
        return (element if len(element) > 1 else element[0]), tf.constant(False)

    marked = dataset.ignore_errors(log_warning=False).map(mark)
    # The end marker has the elements' structure: an image, or an (image, label) pair.
    image = tf.zeros(shape, tf.uint8)
    labelled = isinstance(dataset.element_spec, tuple)
    template = (image, tf.zeros([], dataset.element_spec[1].dtype)) if labelled else image
    end = tf.data.Dataset.from_tensors((template, tf.constant(True)))

    def step(count, element):
        image, last = element
        count += tf.cast(tf.logical_not(last), tf.int64)
        return count, (image, last, count)

    def keep(image, last, count):
        del image
        return tf.cond(
            last,
            lambda: tf.logical_not(tf.py_function(report, [count], tf.bool)),
            lambda: tf.constant(True),
        )

    counted = marked.concatenate(end).scan(tf.constant(0, tf.int64), step)
    return counted.filter(keep).map(lambda image, last, count: image)
