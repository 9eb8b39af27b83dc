"""GAN inversion: recovering known codes, masks, restarts, errors against numpy, bad input."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfgen import architectures
from tfgen.reconstruct import InversionResult, invert

LATENT_DIM = 4


def tiny_generator(seed=0, channels=2):
    """A smooth 4 -> 8x8xchannels generator with outputs of order 0.1 and no batch statistics."""
    keras.utils.set_random_seed(seed)
    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input((LATENT_DIM,)),
            layers.Dense(32, activation="tanh"),
            layers.Dense(64 * channels, activation="tanh"),
            layers.Reshape((8, 8, channels)),
        ],
        name="generator",
    )


def known_codes(n=5, seed=1):
    return np.random.default_rng(seed).normal(size=(n, LATENT_DIM)).astype(np.float32)


@pytest.fixture(scope="module")
def generator():
    return tiny_generator()


@pytest.mark.parametrize(
    "method, max_error, code_tolerance",
    [("conjugate_gradient", 1e-9, 1e-3), ("adam", 1e-6, 2e-2), ("nesterov", 1e-3, None)],
)
def test_invert_recovers_the_code_of_a_generated_image(
    generator, method, max_error, code_tolerance
):
    codes = known_codes()
    images = generator(codes).numpy()
    result = invert(generator, images, method=method, steps=150, seed=0)
    assert isinstance(result, InversionResult)
    assert result.codes.shape == codes.shape and result.reconstructions.shape == images.shape
    assert result.errors.shape == (5,) and result.restart_errors.shape == (1, 5)
    assert np.all(result.errors < max_error), result.errors
    # A random code is far worse: the error of G(z') for independent z'.
    random_error = np.mean((generator(known_codes(seed=9)).numpy() - images) ** 2, axis=(1, 2, 3))
    assert np.all(result.errors < 1e-2 * random_error)
    if code_tolerance is not None:
        np.testing.assert_allclose(result.codes, codes, atol=code_tolerance)
    # Adam and Nesterov evaluate once per iteration plus the initial evaluation.
    if method != "conjugate_gradient":
        assert result.function_evaluations == result.iterations + 1


def test_dcgan_generator_in_inference_mode_is_inverted(generator):
    keras.utils.set_random_seed(0)
    dcgan = architectures.dcgan_generator((8, 8, 1), LATENT_DIM, base_filters=8)
    # Bring the batch-norm moving statistics near the batch statistics (momentum 0.9), so the
    # inference-mode generator makes images of a usable contrast.
    for _ in range(100):
        dcgan(tf.random.normal([64, LATENT_DIM]), training=True)
    codes = known_codes(3)
    images = dcgan(codes, training=False).numpy()
    result = invert(dcgan, images, steps=100, seed=0)
    assert np.all(result.errors < 1e-8 * np.mean(images**2, axis=(1, 2, 3)) + 1e-9)
    np.testing.assert_allclose(result.codes, codes, atol=1e-2)


@pytest.mark.parametrize("loss", ["l2", "l1"])
def test_errors_match_numpy_on_the_known_pixels(generator, loss):
    codes = known_codes(4)
    images = np.clip(
        generator(codes).numpy() + 0.3 * np.sin(np.arange(128)).reshape(8, 8, 2), -1, 1
    )
    mask = (np.random.default_rng(2).uniform(size=(4, 8, 8, 1)) > 0.3).astype(np.float32)
    result = invert(generator, images, method="adam", steps=20, loss=loss, mask=mask, seed=0)
    diff = result.reconstructions - images
    values = np.abs(diff) if loss == "l1" else diff**2
    weights = np.broadcast_to(mask, values.shape)
    expected = (values * weights).sum(axis=(1, 2, 3)) / weights.sum(axis=(1, 2, 3))
    np.testing.assert_allclose(result.errors, expected, rtol=1e-4, atol=1e-8)
    np.testing.assert_allclose(result.reconstructions, generator(result.codes).numpy(), atol=1e-6)


def test_masked_pixels_are_ignored(generator):
    codes = known_codes(4)
    images = generator(codes).numpy()
    rng = np.random.default_rng(3)
    known = (rng.uniform(size=(4, 8, 8, 1)) > 0.4).astype(np.float32)
    # Overwrite the unknown pixels with anything in range: nothing may change.
    scrambled = np.where(known == 1, images, rng.uniform(-1, 1, images.shape)).astype(np.float32)
    results = [
        invert(generator, x, steps=60, mask=m, seed=0)
        for x, m in ((images, known), (scrambled, known), (scrambled, np.repeat(known, 2, -1)))
    ]
    for other in results[1:]:
        np.testing.assert_allclose(other.codes, results[0].codes, rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(other.errors, results[0].errors, rtol=1e-5, atol=1e-12)
    # The known pixels pin the code down, so the masked ones are filled in (inpainting).
    filled = results[1].reconstructions
    assert np.max(np.abs(filled - images)) < 1e-3
    assert np.max(np.abs(scrambled - images)) > 0.5


def test_restarts_keep_the_best_code_per_image(generator):
    codes = known_codes(6)
    images = generator(codes).numpy()
    # Few steps, so restarts end at different errors.
    single = invert(generator, images, method="adam", steps=5, seed=4)
    several = invert(generator, images, method="adam", steps=5, restarts=4, seed=4)
    assert several.restart_errors.shape == (4, 6)
    # Restart 0 starts from the same codes as the single run.
    np.testing.assert_allclose(several.restart_errors[0], single.errors, rtol=1e-6)
    np.testing.assert_allclose(several.errors, several.restart_errors.min(axis=0), rtol=1e-6)
    assert np.all(several.errors <= single.errors)
    assert np.any(several.errors < single.errors)
    per_image = np.mean((generator(several.codes).numpy() - images) ** 2, axis=(1, 2, 3))
    np.testing.assert_allclose(per_image, several.errors, rtol=1e-4)
    assert several.function_evaluations == 4 * single.function_evaluations


def test_same_seed_same_result(generator):
    images = generator(known_codes(2)).numpy()
    first = invert(generator, images, method="nesterov", steps=10, seed=7, learning_rate=0.5)
    again = invert(generator, images, method="nesterov", steps=10, seed=7, learning_rate=0.5)
    np.testing.assert_array_equal(first.codes, again.codes)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"method": "lbfgs"}, "method must be one of"),
        ({"loss": "ssim"}, "loss must be one of"),
        ({"mask": np.ones((2, 8, 8, 3))}, "mask must have shape"),
        ({"mask": np.ones((2, 8, 8))}, "mask must have shape"),
        ({"mask": np.full((2, 8, 8, 1), 2.0)}, r"mask values must lie in \[0, 1\]"),
        ({"steps": 0}, "steps must be an int >= 1"),
        ({"restarts": 1.5}, "restarts must be an int >= 1"),
        ({"seed": "a"}, "seed must be None or an int"),
        ({"images": np.full((2, 8, 8, 2), 3.0)}, r"must lie in \[-1, 1\]"),
        ({"images": np.zeros((8, 8, 2))}, "rank 4"),
        ({"images": np.zeros((2, 16, 16, 2))}, "generator makes"),
        ({"generator": "generator"}, "built keras.Model"),
        ({"learning_rate": -1.0, "method": "adam"}, "learning_rate must be"),
    ],
)
def test_bad_input_is_refused(generator, kwargs, message):
    arguments = {"generator": generator, "images": np.zeros((2, 8, 8, 2), np.float32), **kwargs}
    with pytest.raises(ValueError, match=message):
        invert(**arguments)
