"""Convolutional generators, discriminators, encoders and decoders as functional Keras models.

The DCGAN and encoder/decoder builders take square images ``(side, side, channels)`` with
``side`` a power of two in [MIN_SIDE, MAX_SIDE] and ``channels`` in ALLOWED_CHANNELS. Feature
maps go between START_SIZE x START_SIZE and ``side`` x ``side`` by factors of two, one strided
(transposed) convolution each. The restoration U-Net (`unet`) maps images of any size to
images of the same size; `self_ensemble` averages such a network over flips and turns of its
input at test time.

Images produced (generator, decoder) are float32 in [-1, 1] (tanh); every model's outputs are
float32 even under a ``mixed_float16`` dtype policy, so losses are computed in full precision.
Only built-in Keras layers are used, so the models save to ``.keras`` and load with
``safe_mode=True`` without custom objects.

With ``num_classes=K`` the DCGAN builders are class-conditional: both take a second input, integer
``labels`` of shape (batch,) in [0, K), named "labels" (the generator ``[z, labels]``, the
discriminator ``[images, labels]``).
"""

from __future__ import annotations

from tfgen.architectures._blocks import (  # noqa: F401
    ALLOWED_CHANNELS,
    BATCH_NORM_MOMENTUM,
    DCGAN_BASE_FILTERS,
    DCGAN_GENERATOR_NEGATIVE_SLOPE,
    DCGAN_KERNEL_SIZE,
    KERNEL_SIZE,
    LABEL_EMBEDDING_DIM,
    LEAKY_RELU_SLOPE,
    MAX_CLASSES,
    MAX_EXTRA_CONVS,
    MAX_FILTER_MULTIPLIER,
    MAX_KERNEL_SIZE,
    MAX_SIDE,
    MAX_WIDTH,
    MIN_SIDE,
    NEAREST_UPSAMPLING_MIN_SIDE,
    OUTPUT_KERNEL_SIZE,
    START_SIZE,
    STRIDE,
    UPSAMPLING,
    WEIGHT_INIT_STDDEV,
    check_image_shape,
)
from tfgen.architectures.autoencoders import (  # noqa: F401
    conv_decoder,
    conv_encoder,
)
from tfgen.architectures.dcgan import (  # noqa: F401
    dcgan_discriminator,
    dcgan_generator,
)
from tfgen.architectures.ensemble import (  # noqa: F401
    TRANSFORMS,
    TransformMean,
    TransformStack,
    self_ensemble,
)
from tfgen.architectures.resnet import (  # noqa: F401
    RESNET_MIN_SIDE,
    resnet_discriminator,
    resnet_generator,
)
from tfgen.architectures.restoration import (  # noqa: F401
    MAX_BLUR_FILL_SIGMA,
    BlurFill,
    KnownPixels,
    unet,
)

__all__ = [
    "ALLOWED_CHANNELS",
    "BATCH_NORM_MOMENTUM",
    "DCGAN_BASE_FILTERS",
    "DCGAN_GENERATOR_NEGATIVE_SLOPE",
    "DCGAN_KERNEL_SIZE",
    "KERNEL_SIZE",
    "LABEL_EMBEDDING_DIM",
    "LEAKY_RELU_SLOPE",
    "MAX_EXTRA_CONVS",
    "MAX_FILTER_MULTIPLIER",
    "MAX_KERNEL_SIZE",
    "MAX_SIDE",
    "MAX_WIDTH",
    "MAX_CLASSES",
    "MIN_SIDE",
    "NEAREST_UPSAMPLING_MIN_SIDE",
    "RESNET_MIN_SIDE",
    "OUTPUT_KERNEL_SIZE",
    "START_SIZE",
    "STRIDE",
    "UPSAMPLING",
    "WEIGHT_INIT_STDDEV",
    "check_image_shape",
    "conv_decoder",
    "conv_encoder",
    "dcgan_discriminator",
    "dcgan_generator",
    "resnet_discriminator",
    "resnet_generator",
    "self_ensemble",
    "unet",
]
