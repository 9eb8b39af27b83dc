"""Image corruptions applied on the fly while training reconstruction models.

A corruption maps a batch of clean images in [-1, 1], shape (batch, H, W, C), and a stateless
seed to corrupted images of the same shape; a reconstruction model learns to undo it with the
clean images as targets, so one dataset serves denoising, inpainting and plain compression.

Every random draw is made per example of the GLOBAL batch from the stateless seed (see
`tfgen.distribute.per_example_normal`), so an example gets the same corruption whether the batch
runs on one device or is split over several replicas, and the same seed always gives the same
corruption.

Corruptions are Keras-serialisable objects (registered under the package "tfgen" with a
`get_config`), so models holding them save to `.keras` and load with `safe_mode=True`.
"""

from __future__ import annotations

import inspect
import math
import numbers

import keras
import numpy as np
import tensorflow as tf

from tfgen import distribute

__all__ = ["Corruption", "CorruptionFunction", "GaussianNoise", "RandomMask", "as_seed", "get"]


def as_seed(seed) -> tf.Tensor:
    """A stateless seed, shape [2] int64, from an int, a pair or a tensor; `None` draws one.

    An int `s` becomes ``[s, 0]``.
    """
    if seed is None:
        seed = int(np.random.default_rng().integers(2**31 - 1))
    if isinstance(seed, bool):
        raise ValueError(f"seed must be an int, a pair of ints or a [2] int tensor, got {seed!r}")
    if isinstance(seed, numbers.Integral):
        return tf.constant([int(seed), 0], dtype=tf.int64)
    seed = tf.convert_to_tensor(seed)
    if not seed.dtype.is_integer or seed.shape.rank != 1 or seed.shape[0] != 2:
        raise ValueError(
            f"seed must be an int, a pair of ints or a [2] int tensor, got {seed.dtype.name} "
            f"of shape {seed.shape}"
        )
    return tf.cast(seed, tf.int64)


def _check_images(images) -> tf.Tensor:
    images = tf.convert_to_tensor(images)
    if not images.dtype.is_floating:
        images = tf.cast(images, tf.float32)
    if images.shape.rank != 4:
        raise ValueError(
            f"images must have rank 4, (batch, height, width, channels), got shape {images.shape}"
        )
    return images


def _per_example(kind: str, shape, images, seed):
    """Per-example draws of `shape` for each image, equal on one device and on N replicas."""
    n = tf.shape(images)[0]
    if tf.distribute.get_replica_context() is None:
        # Cross-replica context (inside `strategy.scope()` but outside `strategy.run`): the
        # caller holds the whole batch, which is what the global-batch draws are for.
        full = tf.concat([[n], shape], axis=0)
        draw = tf.random.stateless_normal if kind == "normal" else tf.random.stateless_uniform
        return draw(full, seed=seed)
    if kind == "normal":
        return distribute.per_example_normal(shape, n, seed)
    return distribute.per_example_uniform(shape, n, seed)


class Corruption:
    """Base class: `corruption(images, seed)` returns corrupted images of the same shape.

    Subclasses implement `call(images, seed)` with `images` a float tensor of rank 4 and `seed`
    a [2] int64 stateless seed, and `get_config`.
    """

    def __call__(self, images, seed=None):
        """Corrupts `images` (batch, H, W, C) in [-1, 1] with the stateless `seed`.

        `seed` may be an int, a pair of ints or a [2] int tensor (see `as_seed`); `None` draws
        a fresh one (not reproducible).
        """
        images = _check_images(images)
        return self.call(images, as_seed(seed))

    def call(self, images, seed):
        raise NotImplementedError

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


def _number(value, name, low, high, low_open=False):
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (value > low if low_open else value >= low) and value <= high
    if not ok:
        bracket = "(" if low_open else "["
        raise ValueError(f"{name} must be a number in {bracket}{low}, {high}], got {value!r}")
    return float(value)


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
        if not isinstance(clip, bool):
            raise ValueError(f"clip must be a bool, got {clip!r}")
        self.clip = clip

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

    def __init__(self, fraction=0.25, patch_size=4, fill_value=0.0):
        self.fraction = _number(fraction, "fraction", 0.0, 1.0)
        if isinstance(patch_size, bool) or not isinstance(patch_size, numbers.Integral):
            raise ValueError(f"patch_size must be a positive int, got {patch_size!r}")
        if patch_size < 1:
            raise ValueError(f"patch_size must be a positive int, got {patch_size!r}")
        self.patch_size = int(patch_size)
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


@keras.saving.register_keras_serializable(package="tfgen")
class CorruptionFunction(Corruption):
    """Wraps a function ``fn(images, seed)`` (or ``fn(images)``) as a corruption.

    `seed` is a [2] int64 stateless seed for `tf.random.stateless_*` ops; draw per example with
    `tfgen.distribute.per_example_normal`/`per_example_uniform` to keep results independent of
    the number of replicas. To save the model holding it, register the function with
    `keras.saving.register_keras_serializable`.
    """

    def __init__(self, fn):
        if isinstance(fn, dict):
            fn = keras.saving.deserialize_keras_object(fn)
        if not callable(fn):
            raise ValueError(f"fn must be callable, got {fn!r}")
        self.fn = fn
        self._takes_seed = _accepts_two_arguments(fn)

    def call(self, images, seed):
        out = self.fn(images, seed) if self._takes_seed else self.fn(images)
        out = tf.convert_to_tensor(out)
        if out.shape.rank is not None and out.shape.rank != 4:
            raise ValueError(
                f"the corruption function must return images of rank 4 like its input, got "
                f"shape {out.shape}"
            )
        return tf.cast(out, images.dtype)

    def get_config(self):
        return {"fn": keras.saving.serialize_keras_object(self.fn)}


def _accepts_two_arguments(fn) -> bool:
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return True
    positional = [
        p
        for p in parameters
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
    ]
    return len(positional) >= 2 or any(p.kind == p.VAR_POSITIONAL for p in positional)


def get(identifier):
    """A `Corruption` from `None`, a `Corruption`, its serialised config or a callable."""
    if identifier is None or isinstance(identifier, Corruption):
        return identifier
    if isinstance(identifier, dict):
        corruption = keras.saving.deserialize_keras_object(identifier)
        if not isinstance(corruption, Corruption):
            raise ValueError(f"corruption config does not describe a Corruption: {identifier!r}")
        return corruption
    if callable(identifier):
        return CorruptionFunction(identifier)
    raise ValueError(
        "corruption must be None, a tfgen.corruptions.Corruption (GaussianNoise, RandomMask) "
        f"or a callable fn(images, seed), got {identifier!r}"
    )
