"""Gradient penalties of the discriminator (WGAN-GP, R1), per example, and their parsing."""

from __future__ import annotations

import math

import keras
import tensorflow as tf

from tfgen import _checks as checks
from tfgen.losses.adversarial import _flatten_logits

__all__ = [
    "DEFAULT_PENALTY_WEIGHTS",
    "GRADIENT_NORM_EPSILON",
    "GRADIENT_PENALTIES",
    "parse_gradient_penalty",
    "r1_penalty",
    "wgan_gp_penalty",
]

# Added under the square root of the squared gradient norm: d sqrt(s)/ds is infinite at s = 0,
# which would turn the double-backprop gradient of the WGAN-GP penalty into NaN when a
# discriminator is locally flat. 1e-12 is far below float32 resolution for norms near 1.
GRADIENT_NORM_EPSILON = 1e-12


def _call_discriminator(discriminator, images: tf.Tensor, training: bool) -> tf.Tensor:
    # Keras layers and models take `training`; a plain callable is called with the images only.
    if isinstance(discriminator, keras.layers.Layer):
        logits = discriminator(images, training=training)
    else:
        logits = discriminator(images)
    return _flatten_logits(logits, "discriminator output")


def _input_gradients(discriminator, images: tf.Tensor, training: bool) -> tf.Tensor:
    """Gradient of D's logit with respect to its input, one per example, shape of ``images``.

    Differentiating the SUM of the logits gives every example's own input gradient because the
    discriminator treats examples independently (no batch normalisation). The inner tape is
    created while any outer tape is recording, so the outer tape also records this gradient
    computation and can differentiate it again with respect to D's weights (double backprop).
    """
    with tf.GradientTape() as tape:
        tape.watch(images)
        total = tf.reduce_sum(_call_discriminator(discriminator, images, training))
    grads = tape.gradient(total, images)
    if grads is None:
        raise ValueError("discriminator output does not depend on its input images")
    # Reduce in float32 at least (float16 gradients under mixed precision); keep float64 as is.
    return grads if grads.dtype == tf.float64 else tf.cast(grads, tf.float32)


def _as_images(images, name: str) -> tf.Tensor:
    images = tf.convert_to_tensor(images)
    if not images.dtype.is_floating:
        raise ValueError(f"{name} must be a floating-point tensor, got dtype {images.dtype.name}")
    if images.shape.rank is not None and images.shape.rank < 2:
        raise ValueError(
            f"{name} must be a batch of images of rank >= 2, got shape {tuple(images.shape)}"
        )
    return images


def wgan_gp_penalty(
    discriminator, real_images, fake_images, interpolation_weights, training: bool = True
) -> tf.Tensor:
    """WGAN-GP two-sided gradient penalty (Gulrajani et al. 2017, "Improved Training of WGANs").

    ``P_i = (||grad_x D(x_hat_i)||_2 - 1)^2`` at
    ``x_hat_i = eps_i x_real_i + (1 - eps_i) x_fake_i``, ``eps_i ~ U[0, 1]``. The caller draws
    ``eps`` (so the model controls randomness and seeds) and adds ``lambda * mean_i P_i`` to the
    critic loss (the paper uses ``lambda = 10``).

    Args:
        discriminator: Keras model/layer (called with ``training=training``) or any callable
            mapping images to logits of shape (batch,) or (batch, 1). It must not couple the
            examples of a batch (no batch normalisation), or the per-example gradients are wrong.
        real_images: Real images, shape (batch, H, W, C).
        fake_images: Generated images, same shape as ``real_images``.
        interpolation_weights: ``eps``, shape (batch, 1, 1, 1) (or (batch,)), values in [0, 1].
        training: Passed on to a Keras discriminator.

    Returns:
        Per-example penalties of shape (batch,), float32 (float64 for float64 images).
        Differentiable with respect to the
        discriminator's weights when computed under an outer ``tf.GradientTape``.
    """
    real = _as_images(real_images, "real_images")
    fake = _as_images(fake_images, "fake_images")
    if not real.shape.is_compatible_with(fake.shape):
        raise ValueError(
            "real_images and fake_images must have the same shape, got "
            f"{tuple(real.shape)} and {tuple(fake.shape)}"
        )
    fake = tf.cast(fake, real.dtype)
    eps = tf.cast(tf.convert_to_tensor(interpolation_weights), real.dtype)
    rank = real.shape.rank
    if eps.shape.rank is not None and rank is not None:
        trailing = eps.shape[1:]
        ok = eps.shape.rank == 1 or (eps.shape.rank == rank and all(d == 1 for d in trailing))
        if not ok:
            raise ValueError(
                "interpolation_weights must have shape (batch,) or (batch,"
                + " 1," * (rank - 1)
                + f") to match images of rank {rank}, got shape {tuple(eps.shape)}"
            )
        if eps.shape.rank == 1:
            eps = tf.reshape(eps, [-1] + [1] * (rank - 1))
    interpolated = eps * real + (1.0 - eps) * fake
    grads = _input_gradients(discriminator, interpolated, training)
    axes = list(range(1, grads.shape.rank))
    norm = tf.sqrt(tf.reduce_sum(tf.square(grads), axis=axes) + GRADIENT_NORM_EPSILON)
    return tf.square(norm - 1.0)


def r1_penalty(discriminator, real_images, training: bool = True) -> tf.Tensor:
    """R1 gradient penalty on real data (Mescheder et al. 2018, "Which Training Methods for GANs
    do actually Converge?").

    ``R1_i = ||grad_x D(x_real_i)||_2^2``. The caller adds ``gamma / 2 * mean_i R1_i`` to the
    discriminator loss.

    Args:
        discriminator: Keras model/layer (called with ``training=training``) or any callable
            mapping images to logits of shape (batch,) or (batch, 1); must not couple examples.
        real_images: Real images, shape (batch, H, W, C).
        training: Passed on to a Keras discriminator.

    Returns:
        Per-example penalties of shape (batch,), float32 (float64 for float64 images).
        Differentiable with respect to the
        discriminator's weights when computed under an outer ``tf.GradientTape``.
    """
    real = _as_images(real_images, "real_images")
    grads = _input_gradients(discriminator, real, training)
    axes = list(range(1, grads.shape.rank))
    return tf.reduce_sum(tf.square(grads), axis=axes)


#: Gradient penalties accepted by :func:`parse_gradient_penalty`.
GRADIENT_PENALTIES: tuple[str, ...] = ("wgan_gp", "r1")

#: Weight used when a penalty is named without one: lambda = 10 for WGAN-GP (Gulrajani et al.
#: 2017) and gamma = 10 for R1 (Mescheder et al. 2018, their CelebA-HQ/LSUN setting).
DEFAULT_PENALTY_WEIGHTS: dict[str, float] = {"wgan_gp": 10.0, "r1": 10.0}


def parse_gradient_penalty(spec) -> tuple[str, float] | None:
    """Normalise a gradient-penalty specification.

    Accepted forms:
        ``None``, ``""`` or ``"none"``: no penalty -> ``None``.
        ``("wgan_gp", weight)`` / ``("r1", gamma)`` (tuple or list) -> ``(name, float(weight))``.
        ``"wgan_gp:10"`` / ``"r1:0.1"``: the same as a string (handy for command-line flags).
        ``"wgan_gp"`` / ``"r1"``: the name alone, with :data:`DEFAULT_PENALTY_WEIGHTS`.

    The weight must be a finite number > 0. For ``"wgan_gp"`` it is ``lambda`` (multiplying the
    mean penalty); for ``"r1"`` it is ``gamma`` (the mean penalty is multiplied by gamma / 2).

    Raises:
        ValueError: for any other value.
    """
    allowed = (
        "None, 'none', (name, weight), 'name:weight' or 'name' with name in "
        f"{', '.join(GRADIENT_PENALTIES)} and weight a finite number > 0"
    )
    if spec is None:
        return None
    if isinstance(spec, str):
        text = spec.strip()
        if text.lower() in ("", "none"):
            return None
        if ":" in text:
            name, _, weight_text = text.partition(":")
            try:
                weight = float(weight_text)
            except ValueError:
                raise ValueError(f"gradient_penalty must be {allowed}, got {spec!r}") from None
            spec = (name.strip(), weight)
        else:
            spec = (text, DEFAULT_PENALTY_WEIGHTS.get(text))
    if not isinstance(spec, tuple | list) or len(spec) != 2:
        raise ValueError(f"gradient_penalty must be {allowed}, got {spec!r}")
    name, weight = spec
    if name not in GRADIENT_PENALTIES:
        raise ValueError(f"gradient_penalty must be {allowed}, got {spec!r}")
    if not checks.is_number(weight) or not math.isfinite(weight) or weight <= 0:
        raise ValueError(f"gradient_penalty must be {allowed}, got {spec!r}")
    return (name, float(weight))
