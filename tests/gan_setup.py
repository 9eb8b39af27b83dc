"""The small GAN (and denoiser) and data shared by the GAN tests and the multi-worker worker
script."""

import keras
import numpy as np
import tensorflow as tf
from sklearn.datasets import load_digits

from tfgen import architectures, corruptions
from tfgen.models import GAN, Autoencoder

SIDE = 8
LATENT_DIM = 16
BATCH = 32


def digit_images():
    """scikit-learn's real 8x8 digits, scaled from 0..16 to [-1, 1]."""
    return load_digits().images.astype(np.float32)[..., None] / 8.0 - 1.0


def digit_batches(count=4 * BATCH, batch=BATCH):
    images = digit_images()[:count]
    return tf.data.Dataset.from_tensor_slices(images).batch(batch, drop_remainder=True)


def make_gan(seed=0, filters=8, **kwargs):
    keras.utils.set_random_seed(seed)
    generator = architectures.dcgan_generator((SIDE, SIDE, 1), LATENT_DIM, base_filters=filters)
    discriminator = architectures.dcgan_discriminator((SIDE, SIDE, 1), base_filters=filters)
    return GAN(generator, discriminator, seed=seed, **kwargs)


def make_denoiser(seed=0):
    """A tiny denoising U-Net (no batch norm) whose noise is drawn in the training step."""
    keras.utils.set_random_seed(seed)
    network = architectures.unet((SIDE, SIDE, 1), base_filters=4, depth=1)
    return Autoencoder(None, network, corruption=corruptions.GaussianNoise(0.2), seed=seed)
