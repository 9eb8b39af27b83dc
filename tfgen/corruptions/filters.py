"""Linear filters: `Downsample` (resize down and back up) and `GaussianBlur`."""

from __future__ import annotations

import keras
import tensorflow as tf

from tfgen import _checks as checks
from tfgen.corruptions._base import (
    _BLUR_TRUNCATE,
    DOWNSAMPLE_METHODS,
    MAX_BLUR_SIGMA,
    Corruption,
    _number_or_range,
    _per_example_values,
    _range_config,
)


def _static_sides(images):
    """(height, width), as Python ints where the shape is static, else as scalar tensors."""
    dynamic = tf.shape(images)
    return tuple(
        int(images.shape[axis]) if images.shape[axis] is not None else dynamic[axis]
        for axis in (1, 2)
    )


def _resize_matrix(size_in, size_out, method):
    """The (size_out, size_in) matrix of `tf.image.resize(method, antialias=True)` along one axis.

    The resize is separable and linear, so resizing the unit vectors gives its matrix. It is
    computed eagerly (`tf.init_scope`), once per traced shape, and enters a traced or compiled
    function as a constant.
    """
    with tf.init_scope():
        unit_vectors = tf.eye(size_in)[:, :, None, None]  # size_in images of size_in x 1
        resized = tf.image.resize(unit_vectors, [size_out, 1], method, antialias=True)
        return tf.transpose(resized[:, :, 0, 0])


def _resize_axes(images, rows, cols):
    """``rows @ x @ cols^T`` for each image and channel: a separable resize of (H, W)."""
    images = tf.einsum("ih,bhwc->biwc", rows, images)
    return tf.einsum("jw,biwc->bijc", cols, images)


@keras.saving.register_keras_serializable(package="tfgen")
class Downsample(Corruption):
    """Loss of resolution: downsample by `factor`, then upsample back to the original size.

    ``y = clip(up(down(x)), -1, 1)``: `down` resizes (H, W) to (H // factor, W // factor) and
    `up` back to (H, W), both with `tf.image.resize(method, antialias=True)` (an anti-aliasing
    filter scaled to the factor when shrinking, the plain interpolation kernel when growing;
    Keys' cubic with a = -0.5 for "bicubic", as Pillow's). The corrupted image keeps the shape
    of the clean one, so it is itself the classical baseline of super-resolution (bicubic
    upsampling of the low-resolution image), and a restoration network learns the correction.
    Deterministic: the seed is not used. For images of static height and width both resizes
    run as products with the resize's matrices (equal to `tf.image.resize` up to float
    round-off), which XLA compiles; XLA has no kernel for the antialiased resize itself.

    Args:
        factor: Downsampling factor, int >= 1 (1 leaves the image unchanged up to round-off).
        method: One of DOWNSAMPLE_METHODS. Defaults to "bicubic".
    """

    def __init__(self, factor, method="bicubic"):
        checks.integer(factor, "factor", minimum=1)
        if method not in DOWNSAMPLE_METHODS:
            raise ValueError(f"method must be one of {DOWNSAMPLE_METHODS}, got {method!r}")
        self.factor = int(factor)
        self.method = method

    def call(self, images, seed):
        del seed  # deterministic
        height, width = _static_sides(images)
        for name, side in (("height", height), ("width", width)):
            if isinstance(side, int) and side < self.factor:
                raise ValueError(
                    f"Downsample(factor={self.factor}) needs images of {name} >= {self.factor}, "
                    f"got images of shape {tuple(images.shape)}"
                )
        small = (height // self.factor, width // self.factor)
        if isinstance(height, int) and isinstance(width, int):
            # Static sides: the two resizes as matrix products, which XLA compiles (it has no
            # kernel for the antialiased resize, ScaleAndTranslate), so the corruption stays
            # inside a compiled training step.
            x = tf.cast(images, tf.float32)
            x = _resize_axes(
                x,
                _resize_matrix(height, small[0], self.method),
                _resize_matrix(width, small[1], self.method),
            )
            x = _resize_axes(
                x,
                _resize_matrix(small[0], height, self.method),
                _resize_matrix(small[1], width, self.method),
            )
            return tf.cast(tf.clip_by_value(x, -1.0, 1.0), images.dtype)
        down = tf.image.resize(images, small, self.method, antialias=True)
        restored = tf.image.resize(down, [height, width], self.method, antialias=True)
        return tf.cast(tf.clip_by_value(restored, -1.0, 1.0), images.dtype)

    def get_config(self):
        return {"factor": self.factor, "method": self.method}


def _reflect(index, size):
    """Indices folded into [0, size) by mirror reflection about the edges (d c b a | a b c d),
    scipy.ndimage's "reflect" mode, for any distance outside."""
    period = 2 * size
    folded = tf.math.floormod(index, period)
    return tf.where(folded >= size, period - 1 - folded, folded)


def _blur_matrices(sigmas, size, radius):
    """Per-example (batch, size, size) matrices A with (A x)_i = sum_k g_k x_reflect(i + k).

    g is the Gaussian of each example's sigma sampled at k = -r..r, r = int(4 sigma + 0.5),
    normalised to sum 1: scipy.ndimage.gaussian_filter1d with its default truncate=4.
    """
    offsets = tf.range(-radius, radius + 1)
    k = tf.cast(offsets, tf.float32)[None, :]
    s = tf.maximum(sigmas, 1e-12)[:, None]
    own_radius = tf.floor(_BLUR_TRUNCATE * sigmas + 0.5)[:, None]
    weights = tf.where(tf.abs(k) <= own_radius, tf.exp(-0.5 * tf.square(k / s)), 0.0)
    weights = weights / tf.reduce_sum(weights, axis=1, keepdims=True)  # (batch, K)
    sources = _reflect(tf.range(size)[:, None] + offsets[None, :], size)  # (size, K)
    one_hot = tf.one_hot(sources, size, dtype=tf.float32)  # (size, K, size)
    return tf.einsum("bk,ikj->bij", weights, one_hot)


@keras.saving.register_keras_serializable(package="tfgen")
class GaussianBlur(Corruption):
    """Gaussian blur: ``y = G_sigma * x``, per channel, mirror-reflected at the borders.

    The separable kernel ``g_k ~ exp(-k^2 / (2 sigma^2))``, k = -r..r with r = int(4 sigma +
    0.5), normalised to sum 1, is scipy.ndimage.gaussian_filter's (mode "reflect", truncate 4);
    sigma 0 leaves the image unchanged. With a range, each example draws its sigma uniformly
    from [low, high] (a blind deblurring task). Each axis is blurred by a (side x side) matrix
    product, so images up to a few hundred pixels a side are cheap.

    Args:
        sigma: Standard deviation in pixels, a number >= 0 or a pair (low, high).
    """

    def __init__(self, sigma):
        self.sigma = _number_or_range(sigma, "sigma", 0.0, MAX_BLUR_SIGMA)

    def call(self, images, seed):
        _, high = self.sigma
        radius = int(_BLUR_TRUNCATE * high + 0.5)
        if radius == 0:
            return images
        sigmas = _per_example_values(self.sigma, images, seed)
        height, width = tf.shape(images)[1], tf.shape(images)[2]
        rows = _blur_matrices(sigmas, height, radius)
        cols = _blur_matrices(sigmas, width, radius)
        x = tf.cast(images, tf.float32)
        x = tf.einsum("bij,bjwc->biwc", rows, x)
        x = tf.einsum("bwv,bivc->biwc", cols, x)
        return tf.cast(x, images.dtype)

    def get_config(self):
        return {"sigma": _range_config(self.sigma)}
