"""Convolutional encoder and decoder of the autoencoders and VAEs."""

from __future__ import annotations

import keras
from keras import layers

from tfgen._checks import boolean, positive_int
from tfgen.architectures._blocks import (
    MAX_WIDTH,
    _downsampling_stack,
    _init,
    _to_image,
    _upsampling_stack,
    check_image_shape,
)


def conv_encoder(
    image_shape, latent_dim: int, variational: bool = False, base_filters: int = 64
) -> keras.Model:
    """Convolutional encoder: the discriminator's downsampling trunk with a latent head.

    ``x -> [Conv2D(4, stride 2) -> LeakyReLU(0.2)] x n -> Flatten -> Dense(latent_dim)``.
    With ``variational=True`` (a VAE encoder, Kingma & Welling 2014) the model has TWO outputs,
    ``[z_mean, z_log_var]``, each (batch, latent_dim), from two Dense heads; otherwise one
    output ``z`` (batch, latent_dim). All outputs are float32.

    Args:
        image_shape: ``(side, side, channels)``; see :func:`check_image_shape`.
        latent_dim: Size of the code, positive int.
        variational: Whether to output a Gaussian posterior's mean and log-variance.
        base_filters: Filters of the first block, positive int.

    Returns:
        ``keras.Model`` named "encoder".
    """
    side, _, channels = check_image_shape(image_shape)
    latent_dim = positive_int(latent_dim, "latent_dim", MAX_WIDTH)
    base_filters = positive_int(base_filters, "base_filters", MAX_WIDTH)
    variational = boolean(variational, "variational")
    images = keras.Input(shape=(side, side, channels), name="images")
    x = _downsampling_stack(images, side, base_filters, spectral_norm=False)

    def head(name):
        h = layers.Dense(latent_dim, kernel_initializer=_init(), name=f"{name}_dense")(x)
        return layers.Activation("linear", dtype="float32", name=name)(h)

    outputs = [head("z_mean"), head("z_log_var")] if variational else head("z")
    return keras.Model(images, outputs, name="encoder")


def conv_decoder(latent_dim: int, image_shape, base_filters: int = 64) -> keras.Model:
    """Convolutional decoder mirroring :func:`dcgan_generator`, without batch normalisation.

    ``z -> Dense -> (4, 4, C0) -> [Conv2DTranspose(4, stride 2) -> ReLU] x n -> Conv2D -> tanh``.
    Batch normalisation is left out so a reconstruction depends only on its own code.

    Args:
        latent_dim: Size of the code, positive int.
        image_shape: ``(side, side, channels)``; see :func:`check_image_shape`.
        base_filters: Filters of the last (full-resolution) block, positive int.

    Returns:
        ``keras.Model`` named "decoder": (batch, latent_dim) -> float32 images in [-1, 1].
    """
    latent_dim = positive_int(latent_dim, "latent_dim", MAX_WIDTH)
    side, _, channels = check_image_shape(image_shape)
    base_filters = positive_int(base_filters, "base_filters", MAX_WIDTH)
    z = keras.Input(shape=(latent_dim,), name="latent")
    x = _upsampling_stack(z, side, base_filters, batch_norm=False)
    return keras.Model(z, _to_image(x, channels), name="decoder")
