"""Image corruptions applied on the fly while training reconstruction models.

Noise (`GaussianNoise`), missing patches (`RandomMask`), low resolution (`Downsample`), blur
(`GaussianBlur`) and compression artefacts (`JPEG`), chained with `Compose`.

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

__all__ = [
    "DOWNSAMPLE_METHODS",
    "JPEG_CHANNELS",
    "MAX_BLUR_SIGMA",
    "Compose",
    "Corruption",
    "CorruptionFunction",
    "Downsample",
    "GaussianBlur",
    "GaussianNoise",
    "JPEG",
    "RandomMask",
    "as_seed",
    "get",
]

#: Interpolation methods of `Downsample` (`tf.image.resize` names).
DOWNSAMPLE_METHODS = ("bicubic", "bilinear", "area", "lanczos3", "nearest")
#: Channel counts a JPEG image can have (grey or RGB).
JPEG_CHANNELS = (1, 3)
# scipy.ndimage.gaussian_filter's default: the kernel reaches 4 sigma on each side.
_BLUR_TRUNCATE = 4.0
#: Largest blur sigma accepted, in pixels.
MAX_BLUR_SIGMA = 64.0


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
        if isinstance(factor, bool) or not isinstance(factor, numbers.Integral) or factor < 1:
            raise ValueError(f"factor must be an int >= 1, got {factor!r}")
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


@keras.saving.register_keras_serializable(package="tfgen")
class JPEG(Corruption):
    """JPEG compression artefacts: each image is JPEG-encoded at `quality` and decoded.

    Images in [-1, 1] are mapped to [0, 1], rounded to 8 bits, encoded and decoded by
    TensorFlow's libjpeg (`tf.image.adjust_jpeg_quality`, one image at a time) and mapped back.
    With a range, each example draws an integer quality uniformly from [low, high]. Grey or RGB
    images only; the op runs on the CPU and XLA cannot compile it (`xla_compilable` is False),
    so models apply it in their input pipeline.

    Args:
        quality: JPEG quality, an int in [1, 100] or a pair (low, high) of them.
    """

    def __init__(self, quality):
        bounds = quality if isinstance(quality, list | tuple) else (quality,)
        if any(isinstance(q, bool) or not isinstance(q, numbers.Integral) for q in bounds):
            raise ValueError(
                f"quality must be an int in [1, 100] or a pair (low, high) of them, got {quality!r}"
            )
        low, high = _number_or_range(quality, "quality", 1, 100)
        self.quality = (int(low), int(high))

    xla_compilable = False

    def call(self, images, seed):
        channels = images.shape[-1]
        if channels not in JPEG_CHANNELS:
            raise ValueError(
                f"JPEG needs images with channels in {JPEG_CHANNELS}, got images of shape "
                f"{tuple(images.shape)}"
            )
        low, high = self.quality
        # Integer qualities uniform in [low, high]: floor of a uniform draw on [low, high + 1).
        draws = _per_example_values((float(low), float(high) + 1.0), images, seed)
        qualities = tf.cast(tf.clip_by_value(tf.floor(draws), low, high), tf.int32)
        pixels = tf.cast(
            tf.round(tf.clip_by_value((tf.cast(images, tf.float32) + 1.0) * 127.5, 0.0, 255.0)),
            tf.uint8,
        )

        def compress(args):
            image, q = args
            return tf.image.adjust_jpeg_quality(image, q)

        decoded = tf.map_fn(
            compress,
            (pixels, qualities),
            fn_output_signature=tf.TensorSpec(pixels.shape[1:], tf.uint8),
        )
        return tf.cast(tf.cast(decoded, tf.float32) / 127.5 - 1.0, images.dtype)

    def get_config(self):
        return {"quality": _range_config(self.quality)}


@keras.saving.register_keras_serializable(package="tfgen")
class Compose(Corruption):
    """Several corruptions applied in order: ``y = c_n(... c_2(c_1(x)))``.

    The i-th corruption draws from its own stateless seed, ``stateless_fold_in(seed, i)``, so
    the corruptions are independent and the whole chain is as reproducible, and as independent
    of the number of replicas, as each of its parts.

    Args:
        corruptions: A non-empty list of corruptions (anything `get` accepts, but None).
    """

    def __init__(self, corruptions):
        if isinstance(corruptions, Corruption | dict) or not isinstance(corruptions, list | tuple):
            raise ValueError(f"corruptions must be a non-empty list, got {corruptions!r}")
        if not corruptions:
            raise ValueError("corruptions must be a non-empty list, got an empty one")
        if any(c is None for c in corruptions):
            raise ValueError(f"corruptions must not hold None, got {corruptions!r}")
        self.corruptions = [get(c) for c in corruptions]

    @property
    def xla_compilable(self):
        return all(c.xla_compilable for c in self.corruptions)

    def call(self, images, seed):
        for i, corruption in enumerate(self.corruptions):
            step_seed = tf.random.experimental.stateless_fold_in(seed, i)
            images = tf.cast(corruption.call(images, step_seed), images.dtype)
        return images

    def get_config(self):
        return {"corruptions": [keras.saving.serialize_keras_object(c) for c in self.corruptions]}

    def __repr__(self):
        return f"Compose({self.corruptions!r})"


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
        "corruption must be None, a tfgen.corruptions.Corruption (GaussianNoise, RandomMask, "
        "Downsample, GaussianBlur, JPEG, Compose) "
        f"or a callable fn(images, seed), got {identifier!r}"
    )
