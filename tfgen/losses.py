"""GAN losses and gradient penalties as plain functions of discriminator logits; image quality.

The last section holds the image-quality measures (PSNR, SSIM) and the VAE's KL term, per
example of [-1, 1] images and codes.

Every function returns PER-EXAMPLE values of shape ``(batch,)``, never a mean: under
``tf.distribute`` each replica sees only its slice of the global batch, so the caller averages
with ``tf.nn.compute_average_loss(per_example, global_batch_size=...)`` to get the same gradient
as a single device would on the whole batch.

Logits may be given as ``(batch,)`` or ``(batch, 1)``; they are flattened and computed in float32
(discriminators under a ``mixed_float16`` policy may return float16 logits).

Notation: ``r = D(x)`` are the logits on real images, ``f = D(G(z))`` those on generated images,
``sigma`` is the logistic sigmoid and ``softplus(t) = log(1 + exp(t))``. The stable identities
``-log sigmoid(t) = softplus(-t)`` and ``-log(1 - sigmoid(t)) = softplus(t)`` are used throughout,
so the losses stay finite for logits of any magnitude.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Callable

import keras
import tensorflow as tf

__all__ = [
    "GANLoss",
    "GRADIENT_PENALTIES",
    "DEFAULT_PENALTY_WEIGHTS",
    "LOSSES",
    "get",
    "hinge_discriminator_loss",
    "kl_divergence",
    "hinge_generator_loss",
    "least_squares_discriminator_loss",
    "least_squares_generator_loss",
    "minimax_discriminator_loss",
    "minimax_generator_loss",
    "non_saturating_discriminator_loss",
    "non_saturating_generator_loss",
    "parse_gradient_penalty",
    "psnr",
    "r1_penalty",
    "ssim",
    "wasserstein_discriminator_loss",
    "wasserstein_generator_loss",
    "wgan_gp_penalty",
]

# Added under the square root of the squared gradient norm: d sqrt(s)/ds is infinite at s = 0,
# which would turn the double-backprop gradient of the WGAN-GP penalty into NaN when a
# discriminator is locally flat. 1e-12 is far below float32 resolution for norms near 1.
GRADIENT_NORM_EPSILON = 1e-12


def _flatten_logits(logits, name: str) -> tf.Tensor:
    """Return ``logits`` as a float32 vector of shape (batch,), checking the static rank."""
    logits = tf.convert_to_tensor(logits)
    if not logits.dtype.is_floating:
        raise ValueError(f"{name} must be a floating-point tensor, got dtype {logits.dtype.name}")
    shape = logits.shape
    if shape.rank is not None:
        ok = shape.rank == 1 or (shape.rank == 2 and shape[1] in (1, None))
        if not ok:
            raise ValueError(
                f"{name} must have shape (batch,) or (batch, 1), got shape {tuple(shape)}"
            )
    return tf.reshape(tf.cast(logits, tf.float32), [-1])


def _flatten_pair(real_logits, fake_logits) -> tuple[tf.Tensor, tf.Tensor]:
    """Flatten real and fake logits; their batch sizes must agree (the loss is per-example)."""
    real = _flatten_logits(real_logits, "real_logits")
    fake = _flatten_logits(fake_logits, "fake_logits")
    n_real, n_fake = real.shape[0], fake.shape[0]
    if n_real is not None and n_fake is not None and n_real != n_fake:
        raise ValueError(
            f"real_logits and fake_logits must have the same batch size, got {n_real} and {n_fake}"
        )
    return real, fake


# --------------------------------------------------------------------------------------------
# Non-saturating GAN (Goodfellow et al. 2014, "Generative Adversarial Nets", section 3).
# --------------------------------------------------------------------------------------------


def non_saturating_generator_loss(fake_logits) -> tf.Tensor:
    """Non-saturating generator loss (Goodfellow et al. 2014, "Generative Adversarial Nets").

    ``L_G = -log sigmoid(f) = softplus(-f)``. Maximising ``log D(G(z))`` instead of minimising
    ``log(1 - D(G(z)))`` gives strong gradients early in training, when D rejects fakes easily.

    Returns:
        Per-example losses, float32 of shape (batch,).
    """
    fake = _flatten_logits(fake_logits, "fake_logits")
    return tf.math.softplus(-fake)


def non_saturating_discriminator_loss(real_logits, fake_logits) -> tf.Tensor:
    """Discriminator binary cross-entropy (Goodfellow et al. 2014, "Generative Adversarial Nets").

    ``L_D = -log sigmoid(r) - log(1 - sigmoid(f)) = softplus(-r) + softplus(f)``, the pair
    ``(real_i, fake_i)`` forming example ``i``.

    Returns:
        Per-example losses, float32 of shape (batch,).
    """
    real, fake = _flatten_pair(real_logits, fake_logits)
    return tf.math.softplus(-real) + tf.math.softplus(fake)


# --------------------------------------------------------------------------------------------
# Minimax GAN (Goodfellow et al. 2014): the original zero-sum formulation.
# --------------------------------------------------------------------------------------------


def minimax_generator_loss(fake_logits) -> tf.Tensor:
    """Minimax (saturating) generator loss (Goodfellow et al. 2014, "Generative Adversarial Nets").

    ``L_G = log(1 - sigmoid(f)) = -softplus(f)``: the generator minimises the negative of the
    discriminator's objective on fakes. It saturates (vanishing gradient) when D confidently
    rejects fakes; kept for completeness and comparison.

    Returns:
        Per-example losses, float32 of shape (batch,).
    """
    fake = _flatten_logits(fake_logits, "fake_logits")
    return -tf.math.softplus(fake)


def minimax_discriminator_loss(real_logits, fake_logits) -> tf.Tensor:
    """Minimax discriminator loss, identical to the non-saturating one (Goodfellow et al. 2014).

    ``L_D = softplus(-r) + softplus(f)``.

    Returns:
        Per-example losses, float32 of shape (batch,).
    """
    return non_saturating_discriminator_loss(real_logits, fake_logits)


# --------------------------------------------------------------------------------------------
# Hinge loss (Lim & Ye 2017, "Geometric GAN"; Miyato et al. 2018, "Spectral Normalization for
# Generative Adversarial Networks").
# --------------------------------------------------------------------------------------------


def hinge_generator_loss(fake_logits) -> tf.Tensor:
    """Hinge generator loss (Lim & Ye 2017; Miyato et al. 2018): ``L_G = -f``.

    Returns:
        Per-example losses, float32 of shape (batch,).
    """
    fake = _flatten_logits(fake_logits, "fake_logits")
    return -fake


def hinge_discriminator_loss(real_logits, fake_logits) -> tf.Tensor:
    """Hinge discriminator loss (Lim & Ye 2017; Miyato et al. 2018).

    ``L_D = relu(1 - r) + relu(1 + f)``: a margin loss that stops pushing logits once real ones
    exceed +1 and fake ones fall below -1.

    Returns:
        Per-example losses, float32 of shape (batch,).
    """
    real, fake = _flatten_pair(real_logits, fake_logits)
    return tf.nn.relu(1.0 - real) + tf.nn.relu(1.0 + fake)


# --------------------------------------------------------------------------------------------
# Wasserstein GAN (Arjovsky et al. 2017, "Wasserstein GAN").
# --------------------------------------------------------------------------------------------


def wasserstein_generator_loss(fake_logits) -> tf.Tensor:
    """Wasserstein generator loss (Arjovsky et al. 2017, "Wasserstein GAN"): ``L_G = -f``.

    Returns:
        Per-example losses, float32 of shape (batch,).
    """
    fake = _flatten_logits(fake_logits, "fake_logits")
    return -fake


def wasserstein_discriminator_loss(real_logits, fake_logits) -> tf.Tensor:
    """Wasserstein critic loss (Arjovsky et al. 2017, "Wasserstein GAN"): ``L_D = f - r``.

    Minimising it maximises ``E[D(x)] - E[D(G(z))]``, the Kantorovich-Rubinstein estimate of the
    Wasserstein-1 distance. The critic must be kept (near) 1-Lipschitz, e.g. with
    :func:`wgan_gp_penalty` or spectral normalisation; the loss alone is unbounded.

    Returns:
        Per-example losses, float32 of shape (batch,).
    """
    real, fake = _flatten_pair(real_logits, fake_logits)
    return fake - real


# --------------------------------------------------------------------------------------------
# Least-squares GAN (Mao et al. 2017, "Least Squares Generative Adversarial Networks"),
# with the 0-1 coding a = 0, b = c = 1.
# --------------------------------------------------------------------------------------------


def least_squares_generator_loss(fake_logits) -> tf.Tensor:
    """Least-squares generator loss (Mao et al. 2017, "Least Squares GANs"): ``0.5 (f - 1)^2``.

    Returns:
        Per-example losses, float32 of shape (batch,).
    """
    fake = _flatten_logits(fake_logits, "fake_logits")
    return 0.5 * tf.square(fake - 1.0)


def least_squares_discriminator_loss(real_logits, fake_logits) -> tf.Tensor:
    """Least-squares discriminator loss (Mao et al. 2017): ``0.5 (r - 1)^2 + 0.5 f^2``.

    Returns:
        Per-example losses, float32 of shape (batch,).
    """
    real, fake = _flatten_pair(real_logits, fake_logits)
    return 0.5 * tf.square(real - 1.0) + 0.5 * tf.square(fake)


# --------------------------------------------------------------------------------------------
# Lookup by name.
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class GANLoss:
    """A named pair of per-example loss functions.

    Attributes:
        name: One of :data:`LOSSES`.
        generator: ``fake_logits -> (batch,)`` losses.
        discriminator: ``(real_logits, fake_logits) -> (batch,)`` losses.
    """

    name: str
    generator: Callable[..., tf.Tensor]
    discriminator: Callable[..., tf.Tensor]


_REGISTRY: dict[str, GANLoss] = {
    loss.name: loss
    for loss in (
        GANLoss("non_saturating", non_saturating_generator_loss, non_saturating_discriminator_loss),
        GANLoss("minimax", minimax_generator_loss, minimax_discriminator_loss),
        GANLoss("hinge", hinge_generator_loss, hinge_discriminator_loss),
        GANLoss("wasserstein", wasserstein_generator_loss, wasserstein_discriminator_loss),
        GANLoss("least_squares", least_squares_generator_loss, least_squares_discriminator_loss),
    )
}

#: Names accepted by :func:`get`.
LOSSES: tuple[str, ...] = tuple(_REGISTRY)


def get(name: str) -> GANLoss:
    """Return the :class:`GANLoss` called ``name`` (one of :data:`LOSSES`).

    Raises:
        ValueError: if ``name`` is not a known loss name.
    """
    if not isinstance(name, str) or name not in _REGISTRY:
        raise ValueError(f"loss must be one of {', '.join(LOSSES)}, got {name!r}")
    return _REGISTRY[name]


# --------------------------------------------------------------------------------------------
# Gradient penalties.
# --------------------------------------------------------------------------------------------


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
    if (
        isinstance(weight, bool)
        or not isinstance(weight, numbers.Real)
        or not math.isfinite(weight)
        or weight <= 0
    ):
        raise ValueError(f"gradient_penalty must be {allowed}, got {spec!r}")
    return (name, float(weight))


# ---------------------------------------------------------------------------------------------
# Image quality of [-1, 1] images, and the VAE's KL term; per example, shape (batch,).

# SSIM's Gaussian window (Wang et al. 2004): 11 x 11, sigma 1.5; narrowed for smaller images.
_SSIM_FILTER_SIZE = 11
_SSIM_FILTER_SIGMA = 1.5


def _to_unit(images) -> tf.Tensor:
    """[-1, 1] -> [0, 1], the range `tf.image.psnr`/`ssim` are given with max_val=1."""
    return (tf.cast(images, tf.float32) + 1.0) / 2.0


def ssim(y_true, y_pred) -> tf.Tensor:
    """Per-image SSIM (Wang et al. 2004) of [-1, 1] images, computed on [0, 1] with max_val=1.

    `tf.image.ssim` with an 11 x 11 Gaussian window (sigma 1.5), the window shrunk to the image
    side for images smaller than 11 pixels; averaged over channels. Shape (batch,).
    """
    a, b = _to_unit(y_true), _to_unit(y_pred)
    side = min(int(a.shape[1]), int(a.shape[2]), _SSIM_FILTER_SIZE)
    return tf.image.ssim(a, b, max_val=1.0, filter_size=side, filter_sigma=_SSIM_FILTER_SIGMA)


def psnr(y_true, y_pred) -> tf.Tensor:
    """Per-image PSNR in dB of [-1, 1] images on [0, 1]: ``10 log10(1 / MSE)``. Shape (batch,)."""
    return tf.image.psnr(_to_unit(y_true), _to_unit(y_pred), max_val=1.0)


def kl_divergence(z_mean, z_log_var) -> tf.Tensor:
    """KL(N(mu, diag(exp(lv))) || N(0, I)) per example (Kingma & Welling 2014, appendix B).

    ``0.5 * sum(mu^2 + exp(lv) - lv - 1)`` over all code axes. Shape (batch,).
    """
    mu, log_var = tf.cast(z_mean, tf.float32), tf.cast(z_log_var, tf.float32)
    terms = tf.square(mu) + tf.exp(log_var) - log_var - 1.0
    return 0.5 * tf.reduce_sum(tf.reshape(terms, [tf.shape(terms)[0], -1]), axis=1)
