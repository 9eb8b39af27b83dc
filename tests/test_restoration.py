"""Restoration: the U-Net, image-to-image Autoencoders, the restore export, the perceptual loss
and the deep image prior."""

import dataclasses
import importlib.util
import itertools
import os
import sys

import keras
import numpy as np
import pytest
import scipy.ndimage
import tensorflow as tf

from tfgen import architectures, corruptions, export
from tfgen import data as tfgen_data
from tfgen.data import builders
from tfgen.models import _jit
from tfgen.models.autoencoder import Autoencoder
from tfgen.optimizers import Adam
from tfgen.perceptual import PerceptualLoss
from tfgen.reconstruct import DeepImagePriorResult, deep_image_prior
from tfgen.runs import reconstruction

FILTERS = 4
EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")


def load_example(name):
    """Imports examples/<name>.py as the module `name` (once, shared with other test files)."""
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, os.path.join(EXAMPLES, f"{name}.py"))
        sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[name])
    return sys.modules[name]


def smooth_images(n, height, width, channels=3, seed=0, sigma=1.5):
    """Random smooth images in [-1, 1]: structure at several pixels' scale, like photographs."""
    noise = np.random.default_rng(seed).normal(size=(n, height, width, channels))
    smooth = scipy.ndimage.gaussian_filter(noise, (0, sigma, sigma, 0), mode="wrap")
    return np.clip(smooth / (3 * smooth.std()), -1, 1).astype(np.float32)


@pytest.mark.parametrize("shape", [(16, 16, 3), (17, 23, 1), (9, 10, 3), (8, 8, 1)])
@pytest.mark.parametrize("depth", [0, 1, 3])
def test_unet_keeps_the_shape_for_odd_and_even_sizes(shape, depth):
    model = architectures.unet(shape, base_filters=FILTERS, depth=depth)
    x = smooth_images(2, *shape)
    y = model(x, training=True).numpy()
    assert y.shape == x.shape and y.dtype == np.float32
    # Residual output with a zero-initialised last convolution: untrained, it is the identity.
    np.testing.assert_array_equal(y, x)
    plain = architectures.unet(shape, base_filters=FILTERS, depth=depth, residual=False)
    out = plain(100 * x).numpy()
    assert out.shape == x.shape and np.all(np.abs(out) <= 1.0)


def test_unet_output_stays_in_range_and_saves(tmp_path):
    model = architectures.unet((12, 12, 3), base_filters=FILTERS, depth=2)
    correction = model.get_layer("correction")
    correction.kernel.assign(np.full(correction.kernel.shape, 5.0, np.float32))
    x = smooth_images(2, 12, 12)
    y = model(x).numpy()
    assert np.all(np.abs(y) <= 1.0) and np.abs(y).max() == 1.0
    path = str(tmp_path / "unet.keras")
    model.save(path)
    np.testing.assert_array_equal(keras.saving.load_model(path, safe_mode=True)(x), y)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"image_shape": (16, 16)}, "image_shape must be"),
        ({"image_shape": (16, 16, 2)}, "image_shape must be"),
        ({"image_shape": (0, 16, 3)}, "image_shape must be"),
        ({"image_shape": (16, 16, 3), "depth": -1}, "depth must be an int >= 0"),
        ({"image_shape": (6, 16, 3), "depth": 3}, "depth <= 2"),
        ({"image_shape": (16, 16, 3), "base_filters": 0}, "base_filters must be"),
        ({"image_shape": (16, 16, 3), "residual": 1}, "residual must be a bool"),
    ],
)
def test_unet_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        architectures.unet(**kwargs)


def deblurring_model(shape=(16, 16, 3), **options):
    keras.utils.set_random_seed(0)
    network = architectures.unet(shape, base_filters=8, depth=1)
    options.setdefault("corruption", corruptions.GaussianBlur(1.0))
    return Autoencoder(None, network, seed=1, **options)


def test_unet_autoencoder_learns_to_deblur_and_exports_restore(tmp_path):
    clean = smooth_images(64, 16, 16, sigma=1.0)
    model = deblurring_model(loss={"l1": 1.0, "ssim": 0.2})
    model.compile(Adam(3e-3))
    before = model.evaluate(clean, batch_size=32, verbose=0, return_dict=True)
    # Untrained, the network is the identity: it scores the blurred input itself.
    blurred = corruptions.GaussianBlur(1.0)(clean).numpy()
    assert before["psnr"] == pytest.approx(
        float(np.mean(tf.image.psnr((clean + 1) / 2, (blurred + 1) / 2, max_val=1.0))), abs=1e-3
    )
    model.fit(clean, batch_size=16, epochs=15, verbose=0)
    after = model.evaluate(clean, batch_size=32, verbose=0, return_dict=True)
    assert after["psnr"] > before["psnr"] + 1.0 and after["ssim"] > before["ssim"]

    path = export.export_decoder(model, str(tmp_path / "saved_model"))
    served = tf.saved_model.load(path)
    assert sorted(served.signatures) == ["restore", "serving_default"]
    for batch in (blurred[:3], blurred[:5]):
        out = served.signatures["restore"](images=tf.constant((batch + 1) / 2))["images"].numpy()
        expected = np.clip((model(batch).numpy() + 1) / 2, 0, 1)
        np.testing.assert_allclose(out, expected, atol=1e-5)


def test_image_to_image_autoencoder_on_two_replicas_equals_one_device(two_replicas):
    clean = smooth_images(8, 12, 12)
    data = tf.data.Dataset.from_tensor_slices(clean).batch(4)
    weights = []
    for strategy in (tf.distribute.get_strategy(), two_replicas):
        with strategy.scope():
            model = deblurring_model((12, 12, 3), corruption=corruptions.GaussianBlur((0.5, 1.5)))
            model.compile(Adam(1e-2))
        model.fit(data, epochs=1, verbose=0)
        weights.append([w.numpy() for w in model.decoder.weights])
    for a, b in zip(*weights, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_encoder_none_is_refused_for_bad_decoders():
    decoder = architectures.conv_decoder(8, (8, 8, 1), base_filters=FILTERS)
    with pytest.raises(ValueError, match="with encoder=None the decoder must map images"):
        Autoencoder(None, decoder)
    with pytest.raises(ValueError, match="variational model needs an encoder"):
        Autoencoder(None, architectures.unet((8, 8, 1), FILTERS), variational=True)


def feature_network(shape):
    keras.utils.set_random_seed(3)
    images = keras.Input(shape)
    first = keras.layers.Conv2D(4, 3, activation="relu", name="first")(images)
    second = keras.layers.Conv2D(2, 3, strides=2, name="second")(first)
    return keras.Model(images, [first, second])


def test_perceptual_loss_against_numpy():
    shape = (10, 10, 3)
    features = feature_network(shape)
    x, y = smooth_images(3, *shape, seed=1), smooth_images(3, *shape, seed=2)
    loss = PerceptualLoss(features, weight=0.5, pixel_loss="l2")
    fx, fy = features(x), features(y)
    expected = np.mean((x - y) ** 2, axis=(1, 2, 3)) + 0.5 * 0.5 * sum(
        np.mean((np.asarray(a) - np.asarray(b)) ** 2, axis=(1, 2, 3))
        for a, b in zip(fx, fy, strict=True)
    )
    np.testing.assert_allclose(loss(x, y).numpy(), expected, rtol=1e-5)
    # Weight 0 is the pixel loss alone.
    np.testing.assert_allclose(
        PerceptualLoss(features, weight=0.0)(x, y),
        np.mean(np.abs(x - y), axis=(1, 2, 3)),
        rtol=1e-6,
    )


def test_perceptual_loss_trains_only_the_model_and_saves_with_its_features(tmp_path):
    shape = (12, 12, 3)
    features = feature_network(shape)
    frozen = [w.numpy() for w in features.weights]
    loss = PerceptualLoss(features, weight=0.1, pixel_loss={"l1": 1.0, "ssim": 0.2})
    model = deblurring_model(shape, loss=loss)
    model.compile(Adam(1e-2))
    clean = smooth_images(8, *shape)
    model.fit(clean, batch_size=4, epochs=1, verbose=0)
    assert len(model.trainable_variables) == len(model.decoder.trainable_variables)
    for a, b in zip(frozen, features.weights, strict=True):
        np.testing.assert_array_equal(a, b.numpy())
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert isinstance(loaded.reconstruction_loss, PerceptualLoss)
    np.testing.assert_allclose(
        loaded.evaluate(clean, verbose=0), model.evaluate(clean, verbose=0), rtol=1e-6
    )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"feature_network": "vgg"}, "feature_network must be a built keras.Model"),
        ({"weight": -1.0}, "weight must be a number >= 0"),
        ({"pixel_loss": "l3"}, "loss must be one of"),
        ({"pixel_loss": abs}, "pixel_loss must be one of"),
    ],
)
def test_perceptual_loss_bad_arguments(kwargs, message):
    kwargs.setdefault("feature_network", feature_network((8, 8, 1)))
    with pytest.raises(ValueError, match=message):
        PerceptualLoss(**kwargs)


def photo_crop():
    """A 16x16 crop of a bundled photograph (64x64 pixels of Grace Hopper's face, every 4th)."""
    photo = builders.photo_arrays()["grace_hopper"]
    return (photo[100:164:4, 200:264:4] / 255.0).astype(np.float32)


def test_deep_image_prior_raises_the_psnr_of_a_noisy_image():
    clean = photo_crop()
    noisy = np.clip(clean + np.random.default_rng(0).normal(0, 0.1, clean.shape), 0, 1)
    network = architectures.unet(clean.shape, base_filters=8, depth=2, residual=False)
    result = deep_image_prior(
        noisy, network=network, steps=300, clean=clean, report_every=100, seed=0
    )
    assert isinstance(result, DeepImagePriorResult)
    assert sorted(result.psnr) == [0, 100, 200, 300] and result.losses.shape == (300,)
    assert result.image.shape == clean.shape and 0 <= result.image.min() <= result.image.max() <= 1
    noisy_psnr = 10 * np.log10(1 / np.mean((noisy - clean) ** 2))
    assert result.psnr[0] == pytest.approx(noisy_psnr, abs=1e-3)
    final = 10 * np.log10(1 / np.mean((result.image - clean) ** 2))
    assert result.psnr[300] == pytest.approx(final, abs=1e-3)
    assert final > noisy_psnr + 2.0


def test_deep_image_prior_fits_through_the_mask_and_the_degradation():
    clean = photo_crop()
    known = corruptions.RandomMask(0.3, 2).mask(clean[None], seed=1).numpy()[0]
    masked = clean * known
    result = deep_image_prior(
        masked,
        mask=known,
        steps=60,
        smoothing=0.0,
        clean=clean,
        optimizer=Adam(0.01),
        network=architectures.unet(clean.shape, base_filters=8, depth=1, residual=False),
    )
    # The loss sees only the known pixels: it falls, while the masked ones are filled in.
    assert result.losses[-1] < 0.5 * result.losses[0]
    assert result.psnr[60] > result.psnr[0]

    blur = corruptions.GaussianBlur(1.0)
    blurred = (blur(2 * clean[None] - 1).numpy()[0] + 1) / 2
    result = deep_image_prior(
        blurred,
        corruption=blur,
        steps=30,
        optimizer=Adam(0.01),
        smoothing=0.0,
        network=architectures.unet(clean.shape, base_filters=8, depth=1, residual=False),
    )
    # The loss is the distance between the blurred output and the blurred image.
    assert result.losses[-1] < 0.5 * result.losses[0] and result.psnr == {}


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"image": np.zeros((2, 8, 8, 3))}, "image must be one image"),
        ({"image": np.full((8, 8, 3), 2.0)}, r"image must lie in \[0, 1\]"),
        ({"clean": np.zeros((8, 9, 3))}, "clean must have the shape"),
        ({"mask": np.ones((8, 9))}, "mask must have shape"),
        ({"corruption": corruptions.GaussianNoise(0.1)}, "for denoising pass corruption=None"),
        ({"corruption": corruptions.JPEG(10)}, "deterministic, differentiable"),
        ({"corruption": corruptions.GaussianBlur((1, 2))}, "GaussianBlur with one sigma"),
        ({"steps": 0}, "steps must be an int >= 1"),
        ({"smoothing": 1.0}, r"smoothing must be a number in \[0, 1\)"),
        ({"seed": 1.5}, "seed must be an int"),
        ({"optimizer": "adam"}, "optimizer must be a keras.optimizers.Optimizer"),
        ({"network": architectures.unet((4, 4, 3), 2, 1)}, "network must map inputs"),
    ],
)
def test_deep_image_prior_bad_arguments(kwargs, message):
    kwargs.setdefault("image", np.zeros((8, 8, 3)))
    with pytest.raises(ValueError, match=message):
        deep_image_prior(**kwargs)


def test_reconstruction_example_corruptions_of_the_restoration_tasks():
    example = load_example("train_reconstruction")
    config = example.Config(factor=3, blur_sigma=0.8, jpeg_quality=12)
    made = {
        task: reconstruction.make_corruption(dataclasses.replace(config, task=task)).get_config()
        for task in reconstruction.RESTORATION_TASKS
    }
    assert made == {
        "denoise": {"stddev": 2 * config.noise_stddev, "clip": True},
        "inpaint": {
            "fraction": config.mask_fraction,
            "patch_size": config.mask_patch,
            "fill_value": 0.0,
        },
        "super_resolution": {"factor": 3, "method": "bicubic"},
        "deblur": {"sigma": 0.8},
        "jpeg": {"quality": 12},
    }
    # The default: one model for qualities 10 to 20, each image drawing its own.
    jpeg = reconstruction.make_corruption(example.Config(task="jpeg"))
    assert jpeg.get_config() == {"quality": [10, 20]}
    made = reconstruction.make_corruption(example.Config(task="jpeg", jpeg_quality="15"))
    assert made.get_config() == {"quality": 15}
    for bad in ("10-", "high", "20-10", "0-5", "1-2-3"):
        with pytest.raises(ValueError, match="jpeg_quality"):
            reconstruction.make_corruption(example.Config(task="jpeg", jpeg_quality=bad))


def test_the_jpeg_task_trains_on_permuted_channels():
    example = load_example("train_reconstruction")
    load = dict(image_size=8, batch_size=32)
    config = example.Config(task="jpeg", dataset="photos/crop32", steps=1)

    def first(config):
        return next(iter(reconstruction.training_data(config, **load))).numpy()

    plain = first(dataclasses.replace(config, permute_channels=0.0))
    np.testing.assert_array_equal(first(dataclasses.replace(config, task="denoise")), plain)
    permuted = first(dataclasses.replace(config, permute_channels=1.0))
    orders = set()
    for x, y in zip(plain, permuted, strict=True):
        found = [p for p in itertools.permutations(range(3)) if np.array_equal(x[..., p], y)]
        assert found, "a training image is no channel permutation of the plain one"
        orders.add(found[0])
    assert len(orders) >= 3
    with pytest.raises(ValueError, match=r"permute_channels: probability must be .* \[0, 1\]"):
        first(dataclasses.replace(config, permute_channels=1.5))


def test_reconstruction_example_super_resolution_exports_restore(tmp_path):
    example = load_example("train_reconstruction")
    run = example.train(
        task="super_resolution",
        factor=2,
        image_size=8,
        batch_size=8,
        base_filters=4,
        steps=2,
        epochs=1,
        samples=4,
        validation=False,
        verbose=0,
        output_dir=str(tmp_path),
    )
    served = tf.saved_model.load(run.saved_model_dir)
    assert sorted(served.signatures) == ["restore", "serving_default"]
    model = keras.saving.load_model(run.model_path, safe_mode=True)
    assert model.encoder is None and isinstance(model.corruption, corruptions.Downsample)
    images = np.random.default_rng(0).uniform(0, 1, (3, 8, 8, 1)).astype(np.float32)
    out = served.signatures["restore"](images=tf.constant(images))["images"].numpy()
    expected = np.clip((model(images * 2 - 1).numpy() + 1) / 2, 0, 1)
    np.testing.assert_allclose(out, expected, atol=1e-5)


def test_restore_example_degrades_restores_and_draws(tmp_path):
    example = load_example("restore")
    output = str(tmp_path / "restore.png")
    result = example.restore(task="inpaint", size=16, steps=2, output=output)
    assert os.path.exists(output) and result.restored.shape == (16, 16, 3)
    assert sorted(result.psnr) == [0, 2]
    # Known pixels are kept: only the hidden ones change.
    changed = np.any(result.restored != result.degraded, axis=-1)
    hidden = np.all(result.degraded == 0.5, axis=-1)
    assert changed.any() and not np.any(changed & ~hidden)
    with pytest.raises(ValueError, match="inpaint needs corrupt=True"):
        example.restore(task="inpaint", corrupt=False)
    with pytest.raises(ValueError, match="photo:NAME"):
        example.restore(image="photo:moon")


def test_deep_image_prior_default_network_is_seeded_without_touching_global_seeds():
    image = photo_crop()[:8, :8]

    def after(call):
        keras.utils.set_random_seed(5)
        call()
        return np.random.random(), float(tf.random.uniform(()))  # noqa: NPY002 (global state)

    untouched = after(lambda: None)
    runs = [deep_image_prior(image, steps=2, report_every=1, seed=seed) for seed in (3, 3, 4)]
    assert after(lambda: deep_image_prior(image, steps=1, seed=3)) == untouched
    np.testing.assert_array_equal(runs[0].image, runs[1].image)
    assert not np.array_equal(runs[0].image, runs[2].image)


def test_the_inpainting_run_starts_from_the_blur_fill_of_its_flag():
    config = reconstruction.ReconstructionSettings(task="inpaint", base_filters=4)

    def sigmas(**settings):
        model = reconstruction.build_autoencoder(dataclasses.replace(config, **settings), (8, 8, 3))
        return [
            layer.sigma
            for layer in model.decoder.layers
            if isinstance(layer, architectures.BlurFill)
        ]

    assert sigmas() == [1.5]
    assert sigmas(blur_fill=0.0) == []
    assert sigmas(blur_fill=0.0, task="denoise") == []
    with pytest.raises(ValueError, match="blur_fill must be a sigma >= 0"):
        sigmas(blur_fill=-1.0)


@pytest.mark.parametrize("task", reconstruction.TASKS)
def test_every_reconstruction_task_runs_with_its_default_flags(tmp_path, task):
    """Each task as a user runs it, default flags (jit_compile="auto" included), only smaller:
    enough steps for "auto" to compile the XLA step and time it, so a corruption XLA cannot
    compile would crash here."""
    example = load_example("train_reconstruction")
    steps = _jit.STEPS_TO_DECIDE + 2
    small = dict(image_size=8, batch_size=8, base_filters=4, latent_dim=4, samples=4)
    run = example.train(
        task=task, steps=steps, epochs=1, verbose=0, output_dir=str(tmp_path), **small
    )
    assert run.model.jit_decision is not None  # both variants ran and were timed
    assert np.all(np.isfinite(run.history["loss"])) and np.isfinite(run.history["val_psnr"][-1])
    served = tf.saved_model.load(run.saved_model_dir)
    if task in reconstruction.RESTORATION_TASKS:
        assert sorted(served.signatures) == ["restore", "serving_default"]
    else:
        assert "reconstruct" in served.signatures


def test_jpeg_runs_in_the_input_pipeline_under_xla_and_evaluates_as_in_the_step():
    clean = smooth_images(16, 16, 16)
    jpeg = corruptions.JPEG((10, 20))
    assert not jpeg.xla_compilable and not corruptions.Compose([jpeg]).xla_compilable
    model = deblurring_model(corruption=jpeg)
    model.compile(Adam(1e-3), jit_compile=True)
    model.fit(clean, batch_size=8, epochs=2, verbose=0)
    assert int(model.noise_step.numpy()) == 4
    piped = model.evaluate(clean, batch_size=8, verbose=0, return_dict=True)
    # The same JPEG wrapped as a function XLA is not asked to compile runs inside the step with
    # the step's seeds: the pipeline's evaluation seeds are the same, so are the scores.
    in_step = Autoencoder(
        None, model.decoder, corruption=corruptions.CorruptionFunction(jpeg.call), seed=model.seed
    )
    in_step.compile(Adam(1e-3), jit_compile=False)
    assert in_step.corruption.xla_compilable
    expected = in_step.evaluate(clean, batch_size=8, verbose=0, return_dict=True)
    for name in ("loss", "psnr", "ssim"):
        assert piped[name] == pytest.approx(expected[name], rel=1e-5)
    data = tf.data.Dataset.from_tensor_slices((clean, np.zeros(16))).batch(8)
    assert model.evaluate(data, verbose=0, return_dict=True)["psnr"] == pytest.approx(
        expected["psnr"], rel=1e-5
    )
    with pytest.raises(ValueError, match="validation_split cannot be used"):
        model.fit(clean, validation_split=0.25, verbose=0)


def test_default_denoise_export_denoises_held_out_images_of_any_size(tmp_path):
    """examples/train_reconstruction.py's default task, trained briefly: its SavedModel, loaded
    with plain TensorFlow, restores held-out noisy digits better than the noisy input, at the
    trained size and at sizes it was not built for."""
    example = load_example("train_reconstruction")
    # XLA off: "auto" picks XLA or not by timing, and the two round differently, so a short
    # run's gain would vary with the machine's load. (Not --deterministic, which would turn on
    # op determinism for the whole test process, and tests after this one would run with it.)
    run = example.train(
        steps=60,
        epochs=1,
        base_filters=8,
        verbose=0,
        samples=4,
        jit_compile="false",
        output_dir=str(tmp_path),
    )
    served = tf.saved_model.load(run.saved_model_dir)
    restore = served.signatures["restore"]
    clean = next(iter(tfgen_data.load("digits", split="test", image_size=16, batch_size=16)))
    clean = (clean.numpy() + 1) / 2  # [0, 1]
    noise = np.random.default_rng(0).normal(0, example.Config().noise_stddev, clean.shape)
    noisy = np.clip(clean + noise, 0, 1).astype(np.float32)
    # The model trained on 16x16 digits; 13x15 crops are a size it was not built for.
    for y, x in ((clean, noisy), (clean[:, 1:14, :15], noisy[:, 1:14, :15])):
        restored = restore(images=tf.constant(x))["images"].numpy()
        assert restored.shape == x.shape and restored.min() >= 0 and restored.max() <= 1
        gain = _psnr(y, restored) - _psnr(y, x)
        assert gain > 0.5, gain


def _psnr(clean, images):
    """Mean PSNR (dB) of images in [0, 1]."""
    mse = np.mean((clean - images) ** 2, axis=(1, 2, 3))
    return float(np.mean(10 * np.log10(1.0 / mse)))


def test_blind_spot_denoiser_learns_from_noisy_images_only():
    clean = smooth_images(64, 16, 16, sigma=1.0)
    noise = corruptions.GaussianNoise(0.2)
    noisy = noise(clean, seed=9).numpy()
    keras.utils.set_random_seed(0)
    # Not residual: a skip from input to output would carry each pixel's own noise through.
    network = architectures.unet((16, 16, 3), base_filters=8, depth=1, residual=False)
    model = Autoencoder(None, network, objective="blind_spot", loss="l2", seed=1)
    model.compile(Adam(3e-3))
    # Trained on the noisy images alone: no clean image is ever a target.
    model.fit(noisy, batch_size=16, epochs=30, verbose=0)
    restored = model.predict(noisy, batch_size=32, verbose=0)
    gain = _psnr((clean + 1) / 2, (restored + 1) / 2) - _psnr((clean + 1) / 2, (noisy + 1) / 2)
    assert gain > 0.5, gain
    loaded = Autoencoder.from_config(model.get_config())
    assert loaded.objective == "blind_spot"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(objective="noise2noise"), "objective must be one of"),
        (dict(objective="blind_spot", loss="ssim"), "takes loss 'l1' or 'l2'"),
    ],
)
def test_blind_spot_bad_arguments(kwargs, message):
    network = architectures.unet((8, 8, 3), base_filters=4, depth=1)
    with pytest.raises(ValueError, match=message):
        Autoencoder(None, network, **kwargs)
    encoder = architectures.conv_encoder((8, 8, 3), 4, base_filters=4)
    decoder = architectures.conv_decoder(4, (8, 8, 3), base_filters=4)
    with pytest.raises(ValueError, match="needs an image-to-image network"):
        Autoencoder(encoder, decoder, objective="blind_spot")


def test_mask_aware_unet_keeps_known_pixels_and_learns_to_fill(tmp_path):
    clean = smooth_images(64, 16, 16, sigma=1.0)
    mask = corruptions.RandomMask(0.25, 4)
    masked, known = mask(clean, seed=3).numpy(), mask.mask(clean, seed=3).numpy()
    keras.utils.set_random_seed(0)
    network = architectures.unet((16, 16, 3), base_filters=8, depth=1, inpaint_fill=0.0)
    # Untrained (identity start): known pixels pass, the holes keep the fill value.
    np.testing.assert_allclose(network(masked).numpy(), masked, atol=1e-6)
    model = Autoencoder(None, network, corruption=mask, seed=1)
    model.compile(Adam(3e-3))
    before = model.evaluate(clean, batch_size=32, verbose=0, return_dict=True)["psnr"]
    model.fit(clean, batch_size=16, epochs=15, verbose=0)
    after = model.evaluate(clean, batch_size=32, verbose=0, return_dict=True)["psnr"]
    assert after > before + 0.5, (before, after)
    restored = network(masked).numpy()
    np.testing.assert_allclose(restored * known, masked * known, atol=1e-6)  # known pixels kept
    assert np.abs(restored * (1 - known)).max() > 0.05  # the holes are filled
    path = str(tmp_path / "net.keras")
    network.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(loaded(masked).numpy(), restored, atol=1e-6)
    with pytest.raises(ValueError, match="inpaint_fill must be None or a number in"):
        architectures.unet((16, 16, 3), inpaint_fill=2.0)


@pytest.mark.parametrize("sigma", [0.5, 1.5, 2.5])
def test_blur_fill_is_the_normalised_convolution_of_scipy(sigma):
    rng = np.random.default_rng(1)
    images = rng.uniform(-1, 1, (2, 13, 17, 3)).astype(np.float32)
    known = (rng.uniform(size=(2, 13, 17, 1)) > 0.4).astype(np.float32)
    known[1, :, :9] = 0.0  # a hole wider than the kernel for sigma 0.5: stays at 0 there
    filled = architectures.BlurFill(sigma)([images, known]).numpy()

    # Independent reference: scipy's Gaussian (truncated at 4 sigma), outside the image unknown.
    def gauss(a):
        return scipy.ndimage.gaussian_filter(a, (0, sigma, sigma, 0), mode="constant", cval=0.0)

    weight = gauss(known)
    average = gauss(images * known) / np.maximum(weight, 1e-12)
    expected = np.where(known > 0, images, np.where(weight > 1e-6, average, 0.0))
    np.testing.assert_allclose(filled, expected, atol=2e-6)
    if sigma == 0.5:
        assert np.all(filled[1, :, :6] == 0.0)  # more than 4 sigma from every known pixel


def test_blur_filled_unet_starts_at_the_blur_fill_and_learns(tmp_path):
    clean = smooth_images(64, 16, 16, sigma=1.0)
    mask = corruptions.RandomMask(0.25, 4)
    masked, known = mask(clean, seed=3).numpy(), mask.mask(clean, seed=3).numpy()
    keras.utils.set_random_seed(0)
    network = architectures.unet(
        (16, 16, 3), base_filters=8, depth=1, inpaint_fill=0.0, blur_fill=1.0
    )
    # Untrained, the network is the classical blur fill: it starts at the peer.
    fill = architectures.BlurFill(1.0)([masked, known[..., :1]]).numpy()
    np.testing.assert_allclose(network(masked).numpy(), fill, atol=1e-6)
    model = Autoencoder(None, network, corruption=mask, seed=1)
    model.compile(Adam(1e-3))
    before = model.evaluate(clean, batch_size=32, verbose=0, return_dict=True)["loss"]
    model.fit(clean, batch_size=16, epochs=6, verbose=0)
    after = model.evaluate(clean, batch_size=32, verbose=0, return_dict=True)["loss"]
    assert after < before, (before, after)
    restored = network(masked).numpy()
    np.testing.assert_allclose(restored * known, masked * known, atol=1e-6)
    path = str(tmp_path / "net.keras")
    network.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(loaded(masked).numpy(), restored, atol=1e-6)
    with pytest.raises(ValueError, match="needs inpaint_fill"):
        architectures.unet((16, 16, 3), blur_fill=1.0)
    with pytest.raises(ValueError, match=r"blur_fill\) must be a number in \(0, 16.0\]"):
        architectures.unet((16, 16, 3), inpaint_fill=0.0, blur_fill=-1.0)


def test_denoiser_beats_the_noisy_input_on_held_out_photographs():
    """CI-sized: a small U-Net trained briefly on the training photographs restores crops of
    the held-out ones (grace_hopper, coffee, chelsea) above the noisy input."""
    keras.utils.set_random_seed(0)
    noise = corruptions.GaussianNoise(0.2)  # 0.1 on [0, 1]
    model = Autoencoder(
        None, architectures.unet((16, 16, 3), base_filters=8, depth=1), corruption=noise, seed=0
    )
    model.compile(Adam(3e-3))
    train = tfgen_data.load("photos/crop32", image_size=16, batch_size=16, repeat=True, seed=0)
    model.fit(train, steps_per_epoch=80, epochs=1, verbose=0)
    test = tfgen_data.load(
        "photos/crop32", split="test", image_size=16, batch_size=64, shuffle=False
    )
    clean = next(iter(test)).numpy()
    noisy = noise(clean, seed=7).numpy()
    restored = model.predict(noisy, verbose=0)
    unit = (clean + 1) / 2
    gain = _psnr(unit, (restored + 1) / 2) - _psnr(unit, (noisy + 1) / 2)
    assert gain > 1.0, gain


@pytest.mark.parametrize(
    "build, corruption, message",
    [
        (dict(inpaint_fill=0.0), corruptions.GaussianNoise(0.2), "must be a RandomMask"),
        (dict(inpaint_fill=0.0), corruptions.RandomMask(fill_value=0.5), "fill_value=0.0"),
        ({}, corruptions.Downsample(16), "needs images of at least 16 pixels"),
        ({}, corruptions.RandomMask(), "blind_spot"),
    ],
)
def test_a_corruption_the_model_cannot_use_is_refused(build, corruption, message):
    network = architectures.unet((8, 8, 3), base_filters=4, depth=1, **build)
    objective = "blind_spot" if message == "blind_spot" else "supervised"
    with pytest.raises(ValueError, match=message):
        Autoencoder(None, network, corruption=corruption, objective=objective, loss="l2")
