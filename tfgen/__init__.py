"""tfgen: image generators and reconstruction models for Keras 3, with accelerated optimizers.

The public surface, one module a job:
    tfgen.optimizers     Nesterov, Adam, ConjugateGradient (Keras optimizers, maximize=True)
    tfgen.solvers        minimize(): full-batch CG with line search, Nesterov, Adam
    tfgen.images         image conventions: ranges, sizes, resize, blur, load_image
    tfgen.losses         GAN losses, gradient penalties; pixel losses (l1, l2, SSIM), PSNR
    tfgen.architectures  DCGAN generator/discriminator, convolutional encoder/decoder
    tfgen.layers         Keras' BatchNormalization and Conv2D, computed faster (the builders')
    tfgen.activations    LeakyReLU whose gradient reads its output (the builders')
    tfgen.models         GAN, Autoencoder (keras.Model subclasses trained with fit)
    tfgen.corruptions    noise and masks that reconstruction models learn to undo
    tfgen.reconstruct    invert(): reconstruction through a trained generator
    tfgen.stylize        style transfer, textures, feature visualisation by optimising pixels
    tfgen.pretrained     keras.applications networks from a local, hash-checked weights file
    tfgen.perceptual     PerceptualLoss: pixel loss plus distances of network features
    tfgen.data           load(): tfds, image folders and bundled offline data
    tfgen.callbacks      sample grids, NaN-safe checkpoints, evaluation during fit
    tfgen.metrics        FID, KID, precision/recall, SWD, Inception score; feature extractors
    tfgen.plot           image grids and loss curves (matplotlib)
    tfgen.export         SavedModels that serve without tfgen
"""

from tfgen import _quiet_import  # noqa: F401, I001  (first: TensorFlow's import-time lines)
from tfgen import (
    activations,
    architectures,
    callbacks,
    corruptions,
    data,
    distribute,
    export,
    images,
    layers,
    losses,
    metrics,
    models,
    optimizers,
    perceptual,
    plot,
    pretrained,
    reconstruct,
    solvers,
    stylize,
)

__version__ = "0.1.0"

__all__ = [
    "activations",
    "architectures",
    "callbacks",
    "corruptions",
    "data",
    "distribute",
    "export",
    "images",
    "layers",
    "losses",
    "metrics",
    "models",
    "optimizers",
    "perceptual",
    "plot",
    "pretrained",
    "reconstruct",
    "solvers",
    "stylize",
]
