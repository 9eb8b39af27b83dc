"""Each default is stated once: the settings, builders and examples take the named constant."""

import inspect

import pytest

from tfgen import architectures, corruptions, optimizers, reconstruct
from tfgen.models import autoencoder, gan
from tfgen.optimizers import adam, nesterov
from tfgen.runs.gan import GANSettings
from tfgen.runs.reconstruction import RESTORATION_LEARNING_RATE, ReconstructionSettings


def _default(function, argument):
    return inspect.signature(function).parameters[argument].default


def test_the_learning_rates_are_the_named_ones():
    assert adam.DEFAULT_LEARNING_RATE == 1e-3  # Kingma & Ba (2015)
    assert _default(optimizers.Adam, "learning_rate") is adam.DEFAULT_LEARNING_RATE
    assert autoencoder.DEFAULT_LEARNING_RATE is adam.DEFAULT_LEARNING_RATE
    assert float(autoencoder.default_optimizer().learning_rate) == pytest.approx(1e-3)
    assert gan.DEFAULT_LEARNING_RATE == 2e-4  # Radford et al. (2015)
    assert float(gan.default_optimizer().learning_rate) == pytest.approx(2e-4)
    settings = GANSettings()
    assert settings.g_lr is gan.DEFAULT_LEARNING_RATE
    assert settings.d_lr is gan.DEFAULT_LEARNING_RATE
    assert RESTORATION_LEARNING_RATE == 2e-3
    assert ReconstructionSettings().lr is RESTORATION_LEARNING_RATE


def test_the_slopes_momenta_and_masks_are_the_named_ones():
    assert architectures.LEAKY_RELU_SLOPE == 0.2
    assert reconstruct.LEAKY_RELU_SLOPE is architectures.LEAKY_RELU_SLOPE
    assert _default(optimizers.Nesterov, "momentum") is nesterov.DEFAULT_MOMENTUM == 0.9
    mask = corruptions.RandomMask()
    assert (mask.fraction, mask.patch_size) == (0.25, 4)
    settings = ReconstructionSettings()
    assert settings.mask_fraction is corruptions.pixels.DEFAULT_MASK_FRACTION
    assert settings.mask_patch is corruptions.pixels.DEFAULT_MASK_PATCH
