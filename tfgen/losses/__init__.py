"""GAN losses and gradient penalties as plain functions of discriminator logits; pixel losses.

`tfgen.losses.pixel` holds the pixel losses (l1, l2, 1 - SSIM and their weighted sums, the
reconstruction losses of the restoration models) and the image-quality measures (PSNR, SSIM),
per example of [-1, 1] images; `tfgen.losses.variational` the VAE's KL term.

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

# One module a family: adversarial (GAN losses), penalties, pixel, variational (KL).
from tfgen.losses.adversarial import (
    LOSSES,
    GANLoss,
    get,
    hinge_discriminator_loss,
    hinge_generator_loss,
    least_squares_discriminator_loss,
    least_squares_generator_loss,
    minimax_discriminator_loss,
    minimax_generator_loss,
    non_saturating_discriminator_loss,
    non_saturating_generator_loss,
    wasserstein_discriminator_loss,
    wasserstein_generator_loss,
)
from tfgen.losses.penalties import (  # noqa: F401  (GRADIENT_NORM_EPSILON: public before the split)
    DEFAULT_PENALTY_WEIGHTS,
    GRADIENT_NORM_EPSILON,
    GRADIENT_PENALTIES,
    parse_gradient_penalty,
    r1_penalty,
    wgan_gp_penalty,
)
from tfgen.losses.pixel import (
    RECONSTRUCTION_LOSSES,
    check_reconstruction_loss,
    dssim,
    l1,
    l2,
    mean_per_example,
    psnr,
    reconstruction_loss,
    ssim,
)
from tfgen.losses.variational import kl_divergence

__all__ = [
    "GANLoss",
    "GRADIENT_PENALTIES",
    "DEFAULT_PENALTY_WEIGHTS",
    "LOSSES",
    "RECONSTRUCTION_LOSSES",
    "check_reconstruction_loss",
    "dssim",
    "get",
    "hinge_discriminator_loss",
    "kl_divergence",
    "l1",
    "l2",
    "mean_per_example",
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
    "reconstruction_loss",
    "ssim",
    "wasserstein_discriminator_loss",
    "wasserstein_generator_loss",
    "wgan_gp_penalty",
]
