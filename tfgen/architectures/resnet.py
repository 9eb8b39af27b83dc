"""SNGAN's residual generator and discriminator."""

from __future__ import annotations

import math

import keras
from keras import layers

from tfgen._checks import boolean, positive_int
from tfgen.architectures._blocks import (
    MAX_WIDTH,
    START_SIZE,
    _discriminator_head,
    _filters,
    _labels_input,
    _maybe_spectral,
    _normalize,
    _num_classes,
    _num_resolution_steps,
    _to_image,
    check_image_shape,
)
from tfgen.layers import Conv2D

# ---------------------------------------------------------------------------------------------
# SNGAN's residual networks (Miyato et al. 2018, appendix B; blocks of Gulrajani et al. 2017).

#: Smallest image side of the residual networks: the discriminator ends with two blocks at 8x8.
RESNET_MIN_SIDE = 32
#: Side at which the residual discriminator stops downsampling.
_RESNET_LAST_SIDE = 8


def _check_resnet_shape(image_shape):
    side, _, channels = check_image_shape(image_shape)
    if side < RESNET_MIN_SIDE:
        raise ValueError(
            f"image_shape must have a side of at least {RESNET_MIN_SIDE} for the residual "
            f"networks (use dcgan_generator/dcgan_discriminator below), got {image_shape!r}"
        )
    return side, channels


def _conv(filters, kernel, name, spectral_norm=False):
    conv = Conv2D(filters, kernel, padding="same", name=name)
    return _maybe_spectral(conv, spectral_norm)


def _generator_block(x, filters, name, labels, num_classes):
    """Up-block: ``BN, ReLU, up, conv3, BN, ReLU, conv3`` plus ``conv1(up(x))``."""
    shortcut = layers.UpSampling2D(2, name=f"{name}_shortcut_up")(x)
    shortcut = _conv(filters, 1, f"{name}_shortcut_conv")(shortcut)
    h = _normalize(x, f"{name}_bn1", labels, num_classes)
    h = layers.ReLU(name=f"{name}_relu1")(h)
    h = layers.UpSampling2D(2, name=f"{name}_up")(h)
    h = _conv(filters, 3, f"{name}_conv1")(h)
    h = _normalize(h, f"{name}_bn2", labels, num_classes)
    h = layers.ReLU(name=f"{name}_relu2")(h)
    h = _conv(filters, 3, f"{name}_conv2")(h)
    return layers.Add(name=f"{name}_add")([h, shortcut])


def resnet_generator(
    image_shape, latent_dim: int = 128, base_filters: int = 64, num_classes=None
) -> keras.Model:
    """SNGAN's ResNet generator (Miyato et al. 2018, "Spectral Normalization for Generative
    Adversarial Networks", appendix B, Table 4; residual blocks of Gulrajani et al. 2017).

    ``z -> Dense -> (4, 4, C0) -> [up-block] x n -> BN -> ReLU -> Conv2D(channels, 3) -> tanh``
    with ``n = log2(side / 4)``; an up-block computes
    ``conv3(ReLU(BN(conv3(up(ReLU(BN(x))))))) + conv1(up(x))``, ``up`` a nearest-neighbour
    doubling, which avoids the checkerboard of strided transposed convolutions (Odena et al.
    2016). Filters halve per block down to ``base_filters``, as in :func:`dcgan_generator`.
    With ``num_classes=K`` it takes ``[z, labels]`` and its batch normalisations are
    class-conditional (Miyato & Koyama 2018), as in :func:`dcgan_generator`.

    Args:
        image_shape: ``(side, side, channels)``, side a power of two from RESNET_MIN_SIDE (32).
        latent_dim: Size of the latent vector, positive int.
        base_filters: Filters of the last (full-resolution) block, positive int.
        num_classes: ``None`` (unconditional) or the number of classes, positive int.

    Returns:
        ``keras.Model`` named "generator": (batch, latent_dim) [and int32 labels (batch,)] ->
        float32 images in [-1, 1].
    """
    side, channels = _check_resnet_shape(image_shape)
    latent_dim = positive_int(latent_dim, "latent_dim", MAX_WIDTH)
    base_filters = positive_int(base_filters, "base_filters", MAX_WIDTH)
    num_classes = _num_classes(num_classes)
    z = keras.Input(shape=(latent_dim,), name="latent")
    labels = None if num_classes is None else _labels_input()
    n_blocks = _num_resolution_steps(side)
    start_filters = _filters(base_filters, n_blocks)
    x = layers.Dense(START_SIZE * START_SIZE * start_filters, name="project")(z)
    x = layers.Reshape((START_SIZE, START_SIZE, start_filters), name="reshape")(x)
    for block in range(1, n_blocks + 1):
        filters = _filters(base_filters, n_blocks - block)
        x = _generator_block(x, filters, f"up{block}", labels, num_classes)
    x = _normalize(x, "out_bn", labels, num_classes)
    x = layers.ReLU(name="out_relu")(x)
    inputs = z if labels is None else [z, labels]
    return keras.Model(inputs, _to_image(x, channels), name="generator")


def _discriminator_block(x, filters, name, downsample, first, spectral_norm):
    """Down-block: ``conv3(ReLU(conv3(ReLU(x))))``, average-pooled, plus a 1x1-conv shortcut.

    The first block has no leading ReLU (its input is the image) and pools before its
    shortcut convolution (SNGAN's "optimized" block); a block that keeps both resolution and
    width has the identity as shortcut.
    """
    h = x if first else layers.ReLU(name=f"{name}_relu1")(x)
    h = _conv(filters, 3, f"{name}_conv1", spectral_norm)(h)
    h = layers.ReLU(name=f"{name}_relu2")(h)
    h = _conv(filters, 3, f"{name}_conv2", spectral_norm)(h)
    shortcut = x
    if downsample:
        h = layers.AveragePooling2D(2, name=f"{name}_pool")(h)
        if first:
            shortcut = layers.AveragePooling2D(2, name=f"{name}_shortcut_pool")(shortcut)
    if downsample or x.shape[-1] != filters:
        shortcut = _conv(filters, 1, f"{name}_shortcut_conv", spectral_norm)(shortcut)
        if downsample and not first:
            shortcut = layers.AveragePooling2D(2, name=f"{name}_shortcut_pool")(shortcut)
    return layers.Add(name=f"{name}_add")([h, shortcut])


def resnet_discriminator(
    image_shape, base_filters: int = 64, spectral_norm: bool = True, num_classes=None
) -> keras.Model:
    """SNGAN's ResNet discriminator (Miyato et al. 2018, appendix B, Table 4).

    ``x -> [down-block] x n -> [block] x 2 -> ReLU -> global sum pooling -> Dense(1)``: down-
    blocks halve the side to 8x8 (``n = log2(side / 8)``), filters doubling from
    ``base_filters`` (capped at ``MAX_FILTER_MULTIPLIER`` times), then two residual blocks at
    8x8. Every convolution and the dense layer are spectrally normalised (each kernel divided by
    its largest singular value, estimated by one power iteration per training call), unless
    ``spectral_norm=False``. No batch normalisation, as in :func:`dcgan_discriminator`. With
    ``num_classes=K`` it is a projection discriminator (Miyato & Koyama 2018, eq. 3) taking
    ``[images, labels]``: ``D(x, y) = w . phi(x) + b + V[y] . phi(x)``, ``phi`` the pooled
    features, ``V`` the (spectrally normalised) embedding "label_projection".

    Args:
        image_shape: ``(side, side, channels)``, side a power of two from RESNET_MIN_SIDE (32).
        base_filters: Filters of the first (full-resolution) block, positive int.
        spectral_norm: Whether to spectrally normalise the weights (default True).
        num_classes: ``None`` (unconditional) or the number of classes, positive int.

    Returns:
        ``keras.Model`` named "discriminator": images in [-1, 1] (and int32 labels (batch,)) ->
        float32 logits (batch, 1).
    """
    side, channels = _check_resnet_shape(image_shape)
    base_filters = positive_int(base_filters, "base_filters", MAX_WIDTH)
    spectral_norm = boolean(spectral_norm, "spectral_norm")
    num_classes = _num_classes(num_classes)
    images = keras.Input(shape=(side, side, channels), name="images")
    x = images
    n_down = int(math.log2(side // _RESNET_LAST_SIDE))
    for block in range(n_down):
        filters = _filters(base_filters, block)
        x = _discriminator_block(x, filters, f"down{block + 1}", True, block == 0, spectral_norm)
    for block in range(2):
        x = _discriminator_block(x, filters, f"block{block + 1}", False, False, spectral_norm)
    x = layers.ReLU(name="out_relu")(x)
    # Sum, not mean, over positions (SNGAN's code): the mean times the number of positions.
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    features = layers.Rescaling(_RESNET_LAST_SIDE**2, name="sum_pool")(x)
    # Glorot-uniform (Xavier) weights, as SNGAN's code initialises its layers.
    return _discriminator_head(images, features, spectral_norm, num_classes, "glorot_uniform")
