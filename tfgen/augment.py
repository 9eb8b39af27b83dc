"""Differentiable augmentation of real and generated images (DiffAugment).

Zhao, Liu, Lin, Zhu & Han 2020, "Differentiable Augmentation for Data-Efficient GAN Training"
(https://arxiv.org/abs/2006.10738): the SAME family of random transformations T is applied to
real and to generated images before every discriminator call, in the discriminator's update
(D(T(x)) against D(T(G(z)))) and in the generator's (D(T(G(z)))). T is differentiable with
respect to the images, so the generator learns through it; because the discriminator never sees
an unaugmented image, it cannot tell the transformations apart from the data, and the generator
still learns the un-augmented distribution. This curbs the discriminator's overfitting when
there are few training images.

The three operations of the paper, on images in [-1, 1] of shape (batch, H, W, C), with
u ~ U[0, 1) drawn per example and ``s`` the strength (1 = the paper):

- ``color``: brightness ``x + s (u1 - 1/2)``; saturation ``(x - mean_c) (1 + s (2 u2 - 1)) +
  mean_c`` (mean over channels; the identity for grayscale); contrast ``(x - mean) (1 + s (u3 -
  1/2)) + mean`` (mean over the whole image). As in the paper nothing is clipped: clipping would
  cut the generator's gradient wherever a pixel saturates, and the discriminator sees real and
  generated images transformed alike, so values slightly outside [-1, 1] do no harm.
- ``translation``: a shift by whole pixels, uniform in [-r H, r H] and [-r W, r W] with
  ``r = s / 8`` (rounded to the nearest pixel), the uncovered border filled with 0 (mid-grey).
- ``cutout``: a square of side ``s H / 2`` (rounded) at a uniform random position (it may
  stick out of the image) set to 0.

Translation and cutout keep every value within the image's range (they move pixels or write 0);
all three are the identity at strength 0. Randomness is stateless: each op draws its numbers
from a seed tensor ``[2]``, one row per example of the GLOBAL batch (`tfgen.distribute`), so
each replica of a `tf.distribute` strategy transforms its examples exactly as a single device
would. Call these functions where a replica context exists: in a `train_step`, inside
`strategy.run`, or with no strategy at all.
"""

from __future__ import annotations

import tensorflow as tf

from tfgen import _checks as checks
from tfgen import distribute

__all__ = [
    "CUTOUT_RATIO",
    "OPERATIONS",
    "TRANSLATION_RATIO",
    "color",
    "cutout",
    "diff_augment",
    "parse_policy",
    "translation",
]

#: Largest shift as a fraction of the image side at strength 1 (Zhao et al. 2020: 1/8).
TRANSLATION_RATIO = 0.125
#: Side of the cut-out square as a fraction of the image side at strength 1 (Zhao et al.: 1/2).
CUTOUT_RATIO = 0.5


def _color(images, draws, strength):
    brightness = (draws[:, 0] - 0.5) * strength
    saturation = 1.0 + (2.0 * draws[:, 1] - 1.0) * strength
    contrast = 1.0 + (draws[:, 2] - 0.5) * strength
    x = images + brightness[:, None, None, None]
    channel_mean = tf.reduce_mean(x, axis=3, keepdims=True)
    x = (x - channel_mean) * saturation[:, None, None, None] + channel_mean
    image_mean = tf.reduce_mean(x, axis=[1, 2, 3], keepdims=True)
    return (x - image_mean) * contrast[:, None, None, None] + image_mean


def _pixels(side, ratio):
    return int(side * ratio + 0.5)


def _translation(images, draws, strength):
    height, width = images.shape[1], images.shape[2]
    max_dy = _pixels(height, TRANSLATION_RATIO * strength)
    max_dx = _pixels(width, TRANSLATION_RATIO * strength)
    if max_dy == 0 and max_dx == 0:
        return images
    dy = distribute.uniform_integers(draws[:, 0], 2 * max_dy + 1) - max_dy
    dx = distribute.uniform_integers(draws[:, 1], 2 * max_dx + 1) - max_dx
    # Output pixel (i, j) reads input pixel (i + dy, j + dx); indices are taken in the image
    # padded by one zero pixel, clamped to it, so anything shifted in from outside reads 0.
    padded = tf.pad(images, [[0, 0], [1, 1], [1, 1], [0, 0]])
    rows = tf.clip_by_value(tf.range(height)[None, :] + dy[:, None] + 1, 0, height + 1)
    cols = tf.clip_by_value(tf.range(width)[None, :] + dx[:, None] + 1, 0, width + 1)
    shifted = tf.gather(padded, rows, axis=1, batch_dims=1)  # (batch, H, W + 2, C)
    return tf.gather(shifted, cols, axis=2, batch_dims=1)


def _cutout(images, draws, strength):
    height, width = images.shape[1], images.shape[2]
    size_y = _pixels(height, CUTOUT_RATIO * strength)
    size_x = _pixels(width, CUTOUT_RATIO * strength)
    if size_y == 0 or size_x == 0:
        return images
    # The square's centre is uniform over the image (one position more when the side is even),
    # as in the paper's code; the part outside the image is dropped.
    top = distribute.uniform_integers(draws[:, 0], height + 1 - size_y % 2) - size_y // 2
    left = distribute.uniform_integers(draws[:, 1], width + 1 - size_x % 2) - size_x // 2
    rows = tf.range(height)[None, :] - top[:, None]
    cols = tf.range(width)[None, :] - left[:, None]
    inside_rows = (rows >= 0) & (rows < size_y)
    inside_cols = (cols >= 0) & (cols < size_x)
    inside = inside_rows[:, :, None] & inside_cols[:, None, :]
    keep = tf.cast(tf.logical_not(inside), images.dtype)
    return images * keep[..., None]


#: Name -> (uniform draws per example, function(images, draws, strength)).
OPERATIONS = {
    "color": (3, _color),
    "translation": (2, _translation),
    "cutout": (2, _cutout),
}


def parse_policy(policy) -> tuple[str, ...]:
    """The operations of a policy, in order: ``"color,translation,cutout"``, a sequence of names,
    or ``None`` / ``""`` for none.

    Raises:
        ValueError: for an unknown or repeated name, naming it and the allowed ones.
    """
    if policy is None:
        return ()
    if isinstance(policy, str):
        names = [name.strip() for name in policy.split(",") if name.strip()]
    elif isinstance(policy, list | tuple) and all(isinstance(n, str) for n in policy):
        names = [name.strip() for name in policy]
    else:
        raise ValueError(
            f"augment must be None, a comma-separated string or a list of names from "
            f"{sorted(OPERATIONS)}, got {policy!r}"
        )
    for name in names:
        if name not in OPERATIONS:
            raise ValueError(
                f"augment names one of {sorted(OPERATIONS)} (comma-separated), got {name!r} "
                f"in {policy!r}"
            )
    if len(set(names)) != len(names):
        raise ValueError(f"augment lists an operation twice: {policy!r}")
    return tuple(names)


def _check_strength(strength):
    return checks.number(strength, "strength", minimum=0, kind="a finite float")


def _as_seed(seed):
    if checks.is_int(seed):
        return tf.constant([int(seed), 0], tf.int64)
    seed = tf.convert_to_tensor(seed)
    if seed.shape.rank != 1 or seed.shape[0] != 2 or not seed.dtype.is_integer:
        raise ValueError(f"seed must be an int or an integer tensor of shape [2], got {seed!r}")
    return seed


def _as_images(images):
    images = tf.convert_to_tensor(images)
    if images.shape.rank != 4 or None in images.shape[1:]:
        raise ValueError(
            f"images must have shape (batch, height, width, channels) with known height, width "
            f"and channels, got {images.shape}"
        )
    if not images.dtype.is_floating:
        raise ValueError(f"images must be floating point in [-1, 1], got dtype {images.dtype}")
    return images


def diff_augment(images, policy, seed, strength: float = 1.0):
    """Applies the operations of ``policy`` in order, each with its own per-example draws.

    Args:
        images: Float tensor (batch, H, W, C), values in [-1, 1].
        policy: Operations to apply; see :func:`parse_policy`.
        seed: Stateless seed: an int or an integer tensor of shape [2] (e.g. the training step's).
        strength: Magnitude, >= 0: 1 is the paper's, 0 the identity. Defaults to `1.0`.

    Returns:
        The transformed images, same shape and dtype, differentiable with respect to ``images``.
    """
    names = parse_policy(policy)
    strength = _check_strength(strength)
    images = _as_images(images)
    if not names:
        return images
    counts = [OPERATIONS[name][0] for name in names]
    # One draw for all operations: a single set of cross-replica collectives per call.
    draws = distribute.per_example_uniform([sum(counts)], tf.shape(images)[0], _as_seed(seed))
    draws = tf.cast(draws, images.dtype)
    for name, part in zip(names, tf.split(draws, counts, axis=1), strict=True):
        images = OPERATIONS[name][1](images, part, strength)
    return images


def color(images, seed, strength: float = 1.0):
    """Random brightness, saturation and contrast (Zhao et al. 2020); see the module doc."""
    return diff_augment(images, "color", seed, strength)


def translation(images, seed, strength: float = 1.0):
    """Random shift by up to ``strength / 8`` of the side, zero-filled; see the module doc."""
    return diff_augment(images, "translation", seed, strength)


def cutout(images, seed, strength: float = 1.0):
    """A zeroed square of side ``strength / 2`` of the image's; see the module doc."""
    return diff_augment(images, "cutout", seed, strength)
