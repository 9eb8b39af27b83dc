"""Images of `tfgen.stylize`: loading, sizes, the network's channels, the blur."""

from __future__ import annotations

import math
import numbers
import os

import numpy as np
import tensorflow as tf

from tfgen import _checks as checks

#: Largest result (height x width): the optimisation holds the image, its gradient, optimizer
#: slots and every feature map of 128 filters per layer, a few hundred floats per pixel.
MAX_PIXELS = 2048 * 2048


def load_image(image, size=None):
    """An image as a float32 (H, W, C) array in [0, 1], optionally cropped and resized.

    Args:
        image: the name of a bundled photograph (`tfgen.data.builders.PHOTO_NAMES`), a path to
            an image file (read with Pillow), or an array (H, W, C) with C in (1, 3): uint8
            in [0, 255] or floats in [0, 1].
        size: None, an int or (height, width): centre-crop to that aspect, then resize (area
            averaging).
    """
    size = _image_size(size, "size")
    if isinstance(image, str | os.PathLike):
        from tfgen.data import builders

        if isinstance(image, str) and image in builders.PHOTO_NAMES:
            image = builders.photo_arrays()[image]
        elif os.path.isfile(image):
            from tfgen.data import sources

            image = sources.read_image(image)
        else:
            raise ValueError(
                f"image {os.fspath(image)!r} is neither a file nor a bundled photograph "
                f"{builders.PHOTO_NAMES}"
            )
    array = np.asarray(image)
    if array.ndim != 3 or array.shape[-1] not in (1, 3) or 0 in array.shape:
        raise ValueError(f"image must be an array (H, W, C) with C in (1, 3), got {array.shape}")
    if array.dtype == np.uint8:
        array = array.astype(np.float32) / 255.0
    array = array.astype(np.float32)
    if not np.all(np.isfinite(array)) or array.min() < 0.0 or array.max() > 1.0:
        raise ValueError("image must be uint8 or floats in [0, 1], got values outside [0, 1]")
    if size is None:
        return array
    height, width = array.shape[:2]
    scale = min(height / size[0], width / size[1])
    crop_h, crop_w = round(size[0] * scale), round(size[1] * scale)
    top, left = (height - crop_h) // 2, (width - crop_w) // 2
    array = array[top : top + crop_h, left : left + crop_w]
    return np.clip(tf.image.resize(array, size, method="area").numpy(), 0.0, 1.0)


def _image_size(image_size, name="image_size"):
    if image_size is None:
        return None
    if isinstance(image_size, numbers.Integral) and not isinstance(image_size, bool):
        image_size = (image_size, image_size)
    size = tuple(image_size) if isinstance(image_size, tuple | list) else ()
    if len(size) != 2 or not all(
        isinstance(s, numbers.Integral) and not isinstance(s, bool) and s >= 1 for s in size
    ):
        raise ValueError(f"{name} must be None, an int >= 1 or (height, width), got {size!r}")
    return checks.image_pixels(tuple(int(s) for s in size), name, MAX_PIXELS)


def _prepare(image, name, size, channels):
    """(1, H, W, channels) in [-1, 1]: `load_image(image, size)` with the network's channels."""
    try:
        array = load_image(image, size)
    except ValueError as error:
        raise ValueError(f"{name}: {error}") from None
    if array.shape[-1] != channels:
        if channels == 3:
            array = np.repeat(array, 3, axis=-1)
        else:  # one-channel network: luminance (ITU-R 601)
            array = array @ np.array([[0.299], [0.587], [0.114]], np.float32)
    return tf.constant(array[None] * 2.0 - 1.0, tf.float32)


def _gaussian_blur(images, sigma):
    """Separable Gaussian blur (radius 2 sigma, reflected borders) of (B, H, W, C) images."""
    radius = max(1, math.ceil(2 * sigma))
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    taps = (taps / taps.sum()).astype(np.float32)
    channels = images.shape[-1]
    padded = tf.pad(images, [[0, 0], [radius, radius], [radius, radius], [0, 0]], "REFLECT")
    kernel_h = tf.tile(tf.constant(taps)[:, None, None, None], [1, 1, channels, 1])
    kernel_w = tf.tile(tf.constant(taps)[None, :, None, None], [1, 1, channels, 1])
    blurred = tf.nn.depthwise_conv2d(padded, kernel_h, [1, 1, 1, 1], "VALID")
    return tf.nn.depthwise_conv2d(blurred, kernel_w, [1, 1, 1, 1], "VALID")
