"""The base class `Corruption`, seeds and argument checks of `tfgen.corruptions`."""

from __future__ import annotations

import tensorflow as tf

from tfgen import _checks as checks
from tfgen import distribute, images

#: Interpolation methods of `Downsample` (`tf.image.resize` names).
DOWNSAMPLE_METHODS = ("bicubic", "bilinear", "area", "lanczos3", "nearest")
#: Channel counts a JPEG image can have (grey or RGB).
JPEG_CHANNELS = (1, 3)
# scipy.ndimage.gaussian_filter's default: the kernel reaches 4 sigma on each side.
_BLUR_TRUNCATE = images.BLUR_TRUNCATE
#: Largest blur sigma accepted, in pixels.
MAX_BLUR_SIGMA = 64.0


def as_seed(seed) -> tf.Tensor:
    """A stateless seed, shape [2] int64, from an int, a pair or a tensor; `None` draws one.

    An int `s` becomes ``[s, 0]``.
    """
    if seed is None:
        seed = checks.seed_or_random(None)
    if checks.is_int(seed):  # A bool is refused below, as a tensor of another dtype.
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

    `xla_compilable` says whether XLA can compile `call`: a model corrupts its batches inside
    its (possibly XLA-compiled) training step when it can, and in its input pipeline, outside
    the compiled step, when it cannot (`JPEG`, which runs libjpeg).
    """

    #: Whether XLA can compile `call` (see the class docstring).
    xla_compilable = True

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
    return checks.number(value, name, low, high, low_open)


def _number_or_range(value, name, low, high, low_open=False):
    """`value` as a range (lo, hi): a number gives (v, v), a pair (lo, hi) with lo <= hi."""
    if isinstance(value, list | tuple):
        if len(value) != 2:
            raise ValueError(
                f"{name} must be a number or a pair (low, high) of numbers, got {value!r}"
            )
        lo, hi = (_number(v, name, low, high, low_open) for v in value)
        if lo > hi:
            raise ValueError(f"{name} must be a pair (low, high) with low <= high, got {value!r}")
        return lo, hi
    v = _number(value, name, low, high, low_open)
    return v, v


def _range_config(bounds):
    """A (lo, hi) range as it was given: one number when fixed, else a list of two."""
    return bounds[0] if bounds[0] == bounds[1] else list(bounds)


def _per_example_values(bounds, images, seed):
    """One value per example, uniform in [lo, hi] (no draw at all when lo == hi), float32."""
    low, high = bounds
    if low == high:
        return tf.fill([tf.shape(images)[0]], tf.constant(low, tf.float32))
    draws = _per_example("uniform", [1], images, seed)[:, 0]
    return low + (high - low) * draws
