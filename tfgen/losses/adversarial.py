"""GAN losses as plain functions of discriminator logits, per example, and their lookup by name."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import tensorflow as tf

__all__ = [
    "GANLoss",
    "LOSSES",
    "get",
    "hinge_discriminator_loss",
    "hinge_generator_loss",
    "least_squares_discriminator_loss",
    "least_squares_generator_loss",
    "minimax_discriminator_loss",
    "minimax_generator_loss",
    "non_saturating_discriminator_loss",
    "non_saturating_generator_loss",
    "wasserstein_discriminator_loss",
    "wasserstein_generator_loss",
]


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
