"""Keras models with their own `train_step`: the GAN and the reconstruction models."""

from tfgen.models._base import sampling_network
from tfgen.models.autoencoder import VAE, Autoencoder
from tfgen.models.gan import GAN

__all__ = ["GAN", "Autoencoder", "VAE", "sampling_network"]
