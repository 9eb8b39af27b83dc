"""The benchmarks' keras-io reference GAN (benchmarks/_reference_gan.py) trains what it says."""

import os

import keras
import numpy as np
import pytest

from tfgen import architectures

BENCHMARKS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks")


@pytest.fixture
def reference_gan(monkeypatch):
    monkeypatch.syspath_prepend(BENCHMARKS)
    import _reference_gan  # noqa: PLC0415

    return _reference_gan


@pytest.mark.parametrize("training", [None, True])
def test_batch_norm_learns_batch_statistics_only_in_training_mode(reference_gan, training):
    """The example calls its networks without `training`, so Keras runs a batch norm in
    inference mode (its moving mean stays 0); `training=True` normalises by the batch."""
    keras.utils.set_random_seed(0)
    generator = reference_gan.keras_twin(
        architectures.dcgan_generator((8, 8, 1), latent_dim=4, base_filters=4)
    )
    discriminator = reference_gan.keras_twin(
        architectures.dcgan_discriminator((8, 8, 1), base_filters=4)
    )
    gan = reference_gan.ReferenceGAN(discriminator, generator, 4, training=training)
    gan.compile()
    images = np.random.default_rng(0).uniform(-1, 1, (8, 8, 8, 1)).astype("float32")
    gan.fit(images, batch_size=8, epochs=1, verbose=0)
    norms = [n for n in generator.layers if isinstance(n, keras.layers.BatchNormalization)]
    assert norms
    moved = [np.abs(layer.moving_mean.numpy()).max() > 0 for layer in norms]
    assert all(moved) if training else not any(moved)
