"""DCGAN generator and discriminator (Radford et al. 2015)."""

from __future__ import annotations

import keras
from keras import layers

from tfgen._checks import boolean, integer, positive_int
from tfgen.architectures._blocks import (
    DCGAN_BASE_FILTERS,
    DCGAN_GENERATOR_NEGATIVE_SLOPE,
    DCGAN_KERNEL_SIZE,
    LABEL_EMBEDDING_DIM,
    MAX_EXTRA_CONVS,
    MAX_WIDTH,
    NEAREST_UPSAMPLING_MIN_SIDE,
    _check_kernel_size,
    _check_negative_slope,
    _check_upsampling,
    _discriminator_head,
    _downsampling_stack,
    _init,
    _labels_input,
    _num_classes,
    _to_image,
    _upsampling_stack,
    check_image_shape,
)


def dcgan_generator(
    image_shape,
    latent_dim: int = 128,
    base_filters: int = DCGAN_BASE_FILTERS,
    num_classes=None,
    upsampling: str = "auto",
    batch_norm: bool = True,
    kernel_size: int = DCGAN_KERNEL_SIZE,
    negative_slope: float = DCGAN_GENERATOR_NEGATIVE_SLOPE,
) -> keras.Model:
    """DCGAN generator (Radford et al. 2015, "Unsupervised Representation Learning with Deep
    Convolutional Generative Adversarial Networks").

    ``z (latent_dim,) -> Dense -> (4, 4, C0) -> BN -> LeakyReLU(0.2) -> [Conv2DTranspose(3,
    stride 2) -> BN -> LeakyReLU(0.2)] x n -> Conv2D(channels, 3) -> tanh``, with
    ``n = log2(side / 4)`` and filters halving per block down to ``base_filters`` (from at
    most ``MAX_FILTER_MULTIPLIER * base_filters``).
    With ``upsampling="nearest"`` or ``"bilinear"`` each transposed convolution is replaced by
    a resize to twice the side and a stride-1 ``Conv2D(kernel_size)`` (Odena et al. 2016).

    With ``num_classes=K`` the model takes ``[z, labels]``: the label's embedding
    (LABEL_EMBEDDING_DIM values) is concatenated to ``z``, and every batch normalisation is
    conditional, ``BN(x) * (1 + gamma[y]) + beta[y]`` (de Vries et al. 2017, as in the projection
    cGAN's generator, Miyato & Koyama 2018).

    Args:
        image_shape: ``(side, side, channels)``; see :func:`check_image_shape`.
        latent_dim: Size of the latent vector, positive int. Defaults to 128.
        base_filters: Filters of the last (full-resolution) block, positive int. Defaults to
            DCGAN_BASE_FILTERS (32, chosen by benchmarks/gan_ablation.py).
        num_classes: ``None`` (unconditional) or the number of classes, positive int.
        upsampling: One of UPSAMPLING: ``"transpose"`` (strided transposed convolutions),
            ``"nearest"`` or ``"bilinear"`` (resize, then convolve), or ``"auto"``:
            ``"transpose"`` below NEAREST_UPSAMPLING_MIN_SIDE (32) and ``"nearest"`` from it
            up, where transposed convolutions leave a checkerboard. Defaults to ``"auto"``.
        batch_norm: Whether to batch-normalise after the projection and every block (the
            conditional generator requires it). Defaults to True.
        kernel_size: Kernel side of the upsampling convolutions, positive int. Defaults to
            DCGAN_KERNEL_SIZE (3, chosen by benchmarks/gan_ablation.py).
        negative_slope: Slope below zero of the generator's activations, in [0, 1): 0 for
            Radford et al.'s ReLU, > 0 for a LeakyReLU. Defaults to
            DCGAN_GENERATOR_NEGATIVE_SLOPE (0.2, chosen by benchmarks/gan_ablation.py).

    Returns:
        ``keras.Model`` named "generator": (batch, latent_dim) [and int32 labels (batch,)] ->
        float32 images in [-1, 1].
    """
    side, _, channels = check_image_shape(image_shape)
    latent_dim = positive_int(latent_dim, "latent_dim", MAX_WIDTH)
    base_filters = positive_int(base_filters, "base_filters", MAX_WIDTH)
    num_classes = _num_classes(num_classes)
    upsampling = _check_upsampling(upsampling)
    if upsampling == "auto":
        upsampling = "nearest" if side >= NEAREST_UPSAMPLING_MIN_SIDE else "transpose"
    batch_norm = boolean(batch_norm, "batch_norm")
    kernel_size = _check_kernel_size(kernel_size)
    negative_slope = _check_negative_slope(negative_slope)
    if num_classes is not None and not batch_norm:
        raise ValueError(
            "batch_norm=False is not available with num_classes: the labels act through the "
            "conditional batch normalisations"
        )
    stack = dict(upsampling=upsampling, kernel_size=kernel_size, negative_slope=negative_slope)
    z = keras.Input(shape=(latent_dim,), name="latent")
    if num_classes is None:
        x = _upsampling_stack(z, side, base_filters, batch_norm, **stack)
        return keras.Model(z, _to_image(x, channels), name="generator")
    labels = _labels_input()
    embedded = layers.Embedding(
        num_classes, LABEL_EMBEDDING_DIM, embeddings_initializer=_init(), name="label_embedding"
    )(labels)
    x = layers.Concatenate(name="latent_and_label")([z, embedded])
    x = _upsampling_stack(x, side, base_filters, True, labels, num_classes, **stack)
    return keras.Model([z, labels], _to_image(x, channels), name="generator")


def dcgan_discriminator(
    image_shape,
    base_filters: int = DCGAN_BASE_FILTERS,
    spectral_norm: bool = False,
    num_classes=None,
    kernel_size: int = DCGAN_KERNEL_SIZE,
    extra_convs: int = 0,
) -> keras.Model:
    """DCGAN discriminator (Radford et al. 2015) without batch normalisation.

    ``x -> [Conv2D(3, stride 2) -> LeakyReLU(0.2)] x n -> Flatten -> Dense(1)``, from ``side``
    down to 4x4, filters doubling from ``base_filters`` (capped at ``MAX_FILTER_MULTIPLIER``
    times). With ``extra_convs=m`` every block starts with ``m`` stride-1 ``Conv2D(3)`` and
    LeakyReLU pairs at its input resolution (deeper, as SNGAN's standard CNN). With
    ``spectral_norm`` every Conv2D/Dense (and the label embedding) is wrapped in
    ``keras.layers.SpectralNormalization`` (Miyato et al. 2018).

    With ``num_classes=K`` it is a projection discriminator (Miyato & Koyama 2018, "cGANs with
    Projection Discriminator", eq. 3) taking ``[images, labels]``:
    ``D(x, y) = w . phi(x) + b + V[y] . phi(x)``, ``phi(x)`` the flattened features and ``V``
    a learned (K, features) embedding, named "label_projection".

    Args:
        image_shape: ``(side, side, channels)``; see :func:`check_image_shape`.
        base_filters: Filters of the first (full-resolution) block, positive int. Defaults to
            DCGAN_BASE_FILTERS (32, chosen by benchmarks/gan_ablation.py).
        spectral_norm: Whether to spectrally normalise the weights. Defaults to False.
        num_classes: ``None`` (unconditional) or the number of classes, positive int.
        kernel_size: Kernel side of the strided convolutions, positive int. Defaults to
            DCGAN_KERNEL_SIZE (3, chosen by benchmarks/gan_ablation.py).
        extra_convs: Stride-1 3x3 convolutions before each strided one, int in
            [0, MAX_EXTRA_CONVS]. Defaults to 0.

    Returns:
        ``keras.Model`` named "discriminator": images in [-1, 1] (and int32 labels (batch,)) ->
        float32 logits (batch, 1).
    """
    side, _, channels = check_image_shape(image_shape)
    base_filters = positive_int(base_filters, "base_filters", MAX_WIDTH)
    spectral_norm = boolean(spectral_norm, "spectral_norm")
    num_classes = _num_classes(num_classes)
    kernel_size = _check_kernel_size(kernel_size)
    integer(extra_convs, "extra_convs", 0, MAX_EXTRA_CONVS)
    images = keras.Input(shape=(side, side, channels), name="images")
    features = _downsampling_stack(
        images, side, base_filters, spectral_norm, kernel_size, int(extra_convs)
    )
    return _discriminator_head(images, features, spectral_norm, num_classes, _init())
