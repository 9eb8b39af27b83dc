"""Image conventions, in one place: ranges, sizes, cropping, resizing, luminance, blur, loading.

tfgen's models see images in **[-1, 1]** (`MODEL_RANGE`, the range of a tanh output); users see
them in **[0, 1]** (`UNIT_RANGE`): float32 arrays (H, W, C) or batches (B, H, W, C). Both
ranges are checked with a slack of `RANGE_TOLERANCE`, for the round-off of a tanh output or a
resize.

* `to_unit_range` / `to_model_range`: the linear maps x -> (x + 1) / 2 and x -> 2 x - 1.
* `image_size`: the one rule for a size argument (an int or a (height, width) pair of ints).
* `crop_to_aspect`: the largest central window with a given aspect ratio.
* `resize`: `tf.image.resize`, by default bilinear **with antialiasing** (a triangle filter
  widened by the scale factor when shrinking, which equals Pillow's `Image.BILINEAR`).
* `luminance`: ITU-R BT.601 luma, Y' = 0.299 R + 0.587 G + 0.114 B.
* `gaussian_blur`: a separable Gaussian truncated at 4 sigma with reflected borders (the edge
  pixel repeated), as `scipy.ndimage.gaussian_filter` (mode "reflect", truncate 4) and
  `tfgen.corruptions.GaussianBlur`.
* `load_image`: a file, a bundled photograph or an array -> (H, W, C) float32 in [0, 1],
  optionally cropped to an aspect and resized.
* `check_range`: a ValueError naming the argument when values leave a range (or are not finite).

Functions taking images accept numpy arrays and TensorFlow tensors: a tensor gives a tensor,
anything else a float32 numpy array.
"""

from __future__ import annotations

import os

import numpy as np
import tensorflow as tf

from tfgen import _checks as checks

__all__ = [
    "LUMA_WEIGHTS",
    "MODEL_RANGE",
    "PHOTO_PREFIX",
    "RANGE_TOLERANCE",
    "RESIZE_METHOD",
    "UNIT_RANGE",
    "BLUR_TRUNCATE",
    "allowed_range",
    "check_range",
    "crop_to_aspect",
    "gaussian_blur",
    "image_size",
    "load_image",
    "luminance",
    "photo_names",
    "resize",
    "to_model_range",
    "to_unit_range",
]

#: The range of images inside the models (a tanh output).
MODEL_RANGE = (-1.0, 1.0)
#: The range of images users give and get.
UNIT_RANGE = (0.0, 1.0)
#: How far images may leave their range (round-off of a tanh output or of a resize).
RANGE_TOLERANCE = 1e-3
#: ITU-R BT.601 luma weights of R, G and B.
LUMA_WEIGHTS = (0.299, 0.587, 0.114)
#: The default method of `resize` (always with antialiasing).
RESIZE_METHOD = "bilinear"
#: Gaussian kernels reach this many sigmas on each side (scipy.ndimage's default).
BLUR_TRUNCATE = 4.0
#: Optional prefix of a bundled photograph's name: "photo:china" is "china".
PHOTO_PREFIX = "photo:"


def _is_tensor(images):
    return isinstance(images, tf.Tensor | tf.Variable)


def _float32(images):
    return tf.cast(images, tf.float32) if _is_tensor(images) else np.asarray(images, np.float32)


def to_unit_range(images, clip=True):
    """[-1, 1] -> [0, 1]: ``(x + 1) / 2``, clipped to [0, 1] unless `clip` is False."""
    unit = (_float32(images) + 1.0) / 2.0
    if not clip:
        return unit
    return tf.clip_by_value(unit, 0.0, 1.0) if _is_tensor(unit) else np.clip(unit, 0.0, 1.0)


def to_model_range(images):
    """[0, 1] -> [-1, 1]: ``2 x - 1``, the range the models train on."""
    return _float32(images) * 2.0 - 1.0


def allowed_range(value_range=MODEL_RANGE):
    """The lowest and highest values accepted for `value_range`, its `RANGE_TOLERANCE` added."""
    low, high = value_range
    return low - RANGE_TOLERANCE, high + RANGE_TOLERANCE


def check_range(images, name="images", value_range=MODEL_RANGE, meaning="the models' range"):
    """`images` as given, or a ValueError naming `name` when a value is not finite or leaves
    `value_range` by more than `RANGE_TOLERANCE`.

    The message says the range, what it is (`meaning`), the values found and how to rescale:
    "images must lie in [-1, 1] (the models' range), got values in [0, 255]: ...".
    """
    values = np.asarray(images)
    low_allowed, high_allowed = allowed_range(value_range)
    lo, hi = value_range
    if values.size == 0:
        raise ValueError(f"{name}: empty (no image, or an axis of size 0)")
    finite = np.isfinite(values)
    if not finite.all():
        raise ValueError(
            f"{name}: {int(values.size - finite.sum())} non-finite values (NaN or inf); images "
            "must be finite: clean or drop the bad examples"
        )
    low, high = float(values.min()), float(values.max())
    if low < low_allowed or high > high_allowed:
        if value_range == MODEL_RANGE:
            fix = "x / 127.5 - 1 for 8-bit pixels, x * 2 - 1 for [0, 1]"
        elif value_range == UNIT_RANGE:
            fix = "x / 255 for 8-bit pixels, (x + 1) / 2 for [-1, 1]"
        else:
            fix = f"map them linearly onto [{lo:g}, {hi:g}]"
        raise ValueError(
            f"{name} must lie in [{lo:g}, {hi:g}] ({meaning}), got values in [{low:g}, {high:g}]"
            f": rescale them ({fix})"
        )
    return images


def image_size(size, name="image_size", maximum=checks.MAX_PIXELS):
    """The size argument `size` as a (height, width) pair of Python ints.

    An int (Python's or numpy's) n means (n, n); a tuple or list of two ints is (height, width).
    Bools, floats, other lengths, values < 1 and sizes of more than `maximum` pixels are
    refused with a ValueError naming `name`.
    """
    pair = (size, size) if checks.is_int(size) else size
    if (
        not isinstance(pair, tuple | list)
        or len(pair) != 2
        or not all(checks.is_int(side) and side >= 1 for side in pair)
    ):
        raise ValueError(
            f"{name} must be an int >= 1 or (height, width) of ints >= 1, got {size!r}"
        )
    return checks.image_pixels((int(pair[0]), int(pair[1])), name, maximum)


def crop_to_aspect(images, size):
    """The largest central window of `images` ((H, W, C) or (B, H, W, C)) with the aspect ratio
    height : width of `size` (see `image_size`), its sides rounded half up."""
    size = image_size(size, "size")
    if _is_tensor(images):
        shape = tf.shape(images)
        height, width = shape[-3], shape[-2]
        minimum = tf.minimum
    else:
        images = np.asarray(images)
        height, width = images.shape[-3], images.shape[-2]
        minimum = min
    crop_h = minimum(height, (width * size[0] + size[1] // 2) // size[1])
    crop_w = minimum(width, (height * size[1] + size[0] // 2) // size[0])
    top, left = (height - crop_h) // 2, (width - crop_w) // 2
    return images[..., top : top + crop_h, left : left + crop_w, :]


def resize(images, size, method=RESIZE_METHOD, antialias=True):
    """`images` ((H, W, C) or (B, H, W, C)) resized to `size` by `tf.image.resize`.

    The default, bilinear with antialiasing, averages over the whole footprint of each output
    pixel when shrinking (Pillow's `Image.BILINEAR`), so it does not alias. Images already of
    that size come back unchanged. Values are not clipped: bicubic or Lanczos may overshoot.
    """
    size = image_size(size, "size")
    images = images if _is_tensor(images) else np.asarray(images)
    if tuple(images.shape[-3:-1]) == size:
        return _float32(images)
    resized = tf.image.resize(_float32(images), size, method=method, antialias=antialias)
    return resized if _is_tensor(images) else resized.numpy()


def luminance(images):
    """ITU-R BT.601 luma of RGB images (..., 3): Y' = 0.299 R + 0.587 G + 0.114 B, (..., 1)."""
    images = _float32(images)
    if images.shape[-1] != 3:
        raise ValueError(f"images must have 3 channels (RGB), got shape {tuple(images.shape)}")
    weights = np.array(LUMA_WEIGHTS, np.float32)[:, None]
    return tf.linalg.matmul(images, weights) if _is_tensor(images) else images @ weights


def gaussian_blur(images, sigma):
    """Separable Gaussian blur of (B, H, W, C) images (a tensor in, a tensor out).

    Taps g_k ~ exp(-k^2 / (2 sigma^2)) for k = -r..r with r = int(4 sigma + 0.5), normalised to
    sum 1, borders reflected with the edge pixel repeated: scipy.ndimage's
    `gaussian_filter(..., mode="reflect")`, as `tfgen.corruptions.GaussianBlur`. sigma 0
    returns the images unchanged; the radius r must be at most the image's height and width.
    """
    sigma = checks.finite_float(sigma, "sigma", minimum=0.0)
    radius = int(BLUR_TRUNCATE * sigma + 0.5)
    images = tf.convert_to_tensor(images, tf.float32)
    if radius == 0:
        return images
    sides = [side for side in images.shape[1:3] if side is not None]
    if sides and min(sides) < radius:
        raise ValueError(
            f"sigma={sigma:g} reaches {radius} pixels (4 sigma), more than the images' side "
            f"{min(sides)}: use sigma <= {min(sides) / BLUR_TRUNCATE:g}"
        )
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    taps = (taps / taps.sum()).astype(np.float32)
    channels = images.shape[-1]
    padded = tf.pad(images, [[0, 0], [radius, radius], [radius, radius], [0, 0]], "SYMMETRIC")
    kernel_h = tf.tile(tf.constant(taps)[:, None, None, None], [1, 1, channels, 1])
    kernel_w = tf.tile(tf.constant(taps)[None, :, None, None], [1, 1, channels, 1])
    blurred = tf.nn.depthwise_conv2d(padded, kernel_h, [1, 1, 1, 1], "VALID")
    return tf.nn.depthwise_conv2d(blurred, kernel_w, [1, 1, 1, 1], "VALID")


def photo_names():
    """The names of the bundled photographs (`tfgen.data.photos.PHOTOGRAPHS`)."""
    from tfgen.data import photos  # noqa: PLC0415  (tfgen.data imports much; load it on demand)

    return photos.PHOTOGRAPHS


def _read(image):
    """A name, `photo:NAME` or path -> uint8 (H, W, 3); anything else as it is."""
    if not isinstance(image, str | os.PathLike):
        return image
    names = photo_names()
    if isinstance(image, str):
        name = image[len(PHOTO_PREFIX) :] if image.startswith(PHOTO_PREFIX) else image
        if name in names:
            from tfgen.data import photos  # noqa: PLC0415

            return photos.photographs()[name]
        if image.startswith(PHOTO_PREFIX):
            raise ValueError(f"image {image!r}: photo:NAME needs NAME in {names}")
    if os.path.isfile(image):
        from tfgen.data import sources  # noqa: PLC0415

        return sources.read_image(image, "image")
    raise ValueError(
        "image must be an image file or a bundled photograph NAME (or photo:NAME) with NAME in "
        f"{names}, got {os.fspath(image)!r}"
    )


def load_image(image, size=None):
    """An image as a float32 (H, W, C) array in [0, 1], optionally cropped and resized.

    Args:
        image: the name of a bundled photograph (`photo_names()`, e.g. "grace_hopper"; the
            spelling "photo:grace_hopper" means the same), a path to an image file (read with
            Pillow, as RGB), or an array (H, W, C) with C in (1, 3): uint8 in [0, 255] or floats
            in [0, 1].
        size: None (the image's own size), an int or (height, width) (see `image_size`): the
            image is centre-cropped to that aspect (`crop_to_aspect`), then resized (`resize`,
            antialiased bilinear).

    Raises:
        ValueError: for an unknown name, a file that is not an image, an array of another
            shape, or values outside [0, 1]; naming `image` or `size`.
    """
    size = None if size is None else image_size(size, "size")
    array = np.asarray(_read(image))
    if array.ndim != 3 or array.shape[-1] not in (1, 3) or 0 in array.shape:
        raise ValueError(f"image must be an array (H, W, C) with C in (1, 3), got {array.shape}")
    if array.dtype == np.uint8:
        array = array.astype(np.float32) / 255.0
    elif not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)):
        raise ValueError(f"image must be uint8 or floats in [0, 1], got dtype {array.dtype}")
    array = check_range(array.astype(np.float32), "image", UNIT_RANGE, "uint8 or floats")
    array = np.clip(array, 0.0, 1.0)
    if size is None:
        return array
    return np.clip(resize(crop_to_aspect(array, size), size), 0.0, 1.0)
