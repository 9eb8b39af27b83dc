"""Reconstruction through a trained generator: find the latent codes that best explain images.

`invert(generator, images)` solves, for each image x_i,

    z_i* = argmin_z  L(x_i, G(z))        (L over the known pixels only when a mask is given)

with `tfgen.solvers.minimize` (conjugate gradient, Nesterov or Adam), which is GAN inversion
(Zhu et al. 2016, "Generative Visual Manipulation on the Natural Image Manifold"; Creswell &
Bharath 2018, "Inverting the Generator of a Generative Adversarial Network"). With a mask that
hides some pixels, G(z*) fills them in: inpainting with the generator as the image prior
(Yeh et al. 2017, "Semantic Image Inpainting with Deep Generative Models").

`deep_image_prior(image, ...)` needs no trained model at all: it fits a randomly initialised
network to one degraded image and stops early (Ulyanov et al. 2018, "Deep Image Prior").
"""

# One module a method: inversion (through a trained generator), prior (the deep image prior).
from tfgen.reconstruct.inversion import (
    INVERSION_LOSSES,
    INVERSION_METHODS,
    InversionResult,
    invert,
)
from tfgen.reconstruct.prior import (  # noqa: F401  (LEAKY_RELU_SLOPE: public before the split)
    DIP_DEPTH,
    DIP_FILTERS,
    DIP_INPUT_SCALE,
    DIP_LEARNING_RATE,
    DIP_SMOOTHING,
    LEAKY_RELU_SLOPE,
    DeepImagePriorResult,
    deep_image_prior,
)

__all__ = [
    "DIP_DEPTH",
    "DIP_FILTERS",
    "DIP_INPUT_SCALE",
    "DIP_LEARNING_RATE",
    "DIP_SMOOTHING",
    "INVERSION_LOSSES",
    "INVERSION_METHODS",
    "DeepImagePriorResult",
    "InversionResult",
    "deep_image_prior",
    "invert",
]
