"""Corruptions of single pixels: `GaussianNoise` and `RandomMask`."""

from __future__ import annotations

import math

import keras
import tensorflow as tf

from tfgen import _checks as checks
from tfgen.corruptions._base import (
    Corruption,
    _check_images,
    _number,
    _per_example,
    as_seed,
)

#: `RandomMask`'s defaults: a quarter of the pixels hidden, in 4x4 squares.
DEFAULT_MASK_FRACTION = 0.25
DEFAULT_MASK_PATCH = 4


@keras.saving.register_keras_serializable(package="tfgen")
class GaussianNoise(Corruption):
    """Additive white Gaussian noise: ``y = clip(x + stddev * n, -1, 1)``, n ~ N(0, I).

    `stddev` is in the units of the [-1, 1] images the models see, so noise of standard
    deviation s on [0, 1] images is ``GaussianNoise(2 * s)``. Each pixel and channel gets its
    own draw.

    Args:
        stddev: Noise standard deviation, a number >= 0.
        clip: Whether to clip the noisy images back to [-1, 1] (the range of the clean images
            and of a tanh decoder). Defaults to True.
    """

    def __init__(self, stddev, clip=True):
        self.stddev = _number(stddev, "stddev", 0.0, math.inf)
        self.clip = checks.boolean(clip, "clip")

    def call(self, images, seed):
        noise = _per_example("normal", tf.shape(images)[1:], images, seed)
        noisy = images + tf.cast(self.stddev * noise, images.dtype)
        return tf.clip_by_value(noisy, -1.0, 1.0) if self.clip else noisy

    def get_config(self):
        return {"stddev": self.stddev, "clip": self.clip}


@keras.saving.register_keras_serializable(package="tfgen")
class RandomMask(Corruption):
    """Masks random square patches: an inpainting corruption.

    Each image is tiled by a grid of `patch_size` x `patch_size` blocks, shifted by a random
    offset in [0, patch_size) along each axis per image, and every block is masked
    independently with probability `fraction` (a Bernoulli draw per block). Every pixel thus
    lies in exactly one block and is masked with probability exactly `fraction`; the masked
    share of an image fluctuates around `fraction` (less so for small patches). Masked pixels,
    all channels at once, are set to `fill_value`: ``y = m * x + (1 - m) * fill_value``.

    `mask(images, seed)` returns the mask `m` itself, 1 where a pixel is KNOWN (kept) and 0
    where it is masked, shape (batch, H, W, 1); the same seed gives the mask the corruption
    used, so it can be handed to `tfgen.reconstruct.invert(..., mask=m)`.

    Args:
        fraction: Probability in [0, 1] that a pixel is masked. Defaults to 0.25.
        patch_size: Side of the square blocks in pixels, positive int (1: independent pixels).
            Defaults to 4.
        fill_value: Value in [-1, 1] written into masked pixels. Defaults to 0 (mid grey).
    """

    def __init__(
        self, fraction=DEFAULT_MASK_FRACTION, patch_size=DEFAULT_MASK_PATCH, fill_value=0.0
    ):
        self.fraction = _number(fraction, "fraction", 0.0, 1.0)
        self.patch_size = checks.positive_int(patch_size, "patch_size")
        self.fill_value = _number(fill_value, "fill_value", -1.0, 1.0)

    def mask(self, images, seed=None):
        """The mask for `images` and `seed`: float32 (batch, H, W, 1), 1 = known, 0 = masked."""
        images = _check_images(images)
        return self._mask(images, as_seed(seed))

    def _mask(self, images, seed):
        p = self.patch_size
        shape = tf.shape(images)
        height, width = shape[1], shape[2]
        # With an offset o in [0, p), pixel i falls in block (i + o) // p <= (i_max + p - 1) // p.
        rows, cols = (height + p - 2) // p + 1, (width + p - 2) // p + 1
        draws = _per_example("uniform", [rows * cols + 2], images, seed)
        masked = tf.reshape(draws[:, :-2] < self.fraction, [-1, rows, cols])
        offsets = tf.minimum(tf.cast(draws[:, -2:] * p, tf.int32), p - 1)
        row_index = (tf.range(height)[None, :] + offsets[:, :1]) // p  # (batch, H)
        col_index = (tf.range(width)[None, :] + offsets[:, 1:]) // p  # (batch, W)
        masked = tf.gather(masked, row_index, axis=1, batch_dims=1)  # (batch, H, cols)
        masked = tf.gather(masked, col_index, axis=2, batch_dims=1)  # (batch, H, W)
        return 1.0 - tf.cast(masked, tf.float32)[..., None]

    def call(self, images, seed):
        known = tf.cast(self._mask(images, seed), images.dtype)
        return images * known + tf.cast(self.fill_value, images.dtype) * (1.0 - known)

    def get_config(self):
        return {
            "fraction": self.fraction,
            "patch_size": self.patch_size,
            "fill_value": self.fill_value,
        }
