"""The reconstruction models: losses, metrics, learning, distribution, saving and bad input."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from sklearn.datasets import load_digits

from tfgen import architectures, corruptions
from tfgen.models import autoencoder as ae_module
from tfgen.models.autoencoder import VAE, Autoencoder
from tfgen.optimizers import Adam, ConjugateGradient, Nesterov

SIDE = 8
LATENT_DIM = 8
BATCH = 32


@pytest.fixture(scope="module")
def digits():
    """scikit-learn's real 8x8 digits, scaled from 0..16 to [-1, 1]."""
    images = load_digits().images.astype(np.float32)[..., None]
    return images / 8.0 - 1.0


def make_networks(seed=0, variational=False, filters=8, latent_dim=LATENT_DIM, channels=1):
    keras.utils.set_random_seed(seed)
    shape = (SIDE, SIDE, channels)
    encoder = architectures.conv_encoder(shape, latent_dim, variational, base_filters=filters)
    decoder = architectures.conv_decoder(latent_dim, shape, base_filters=filters)
    return encoder, decoder


def make_model(seed=0, variational=False, filters=8, latent_dim=LATENT_DIM, **kwargs):
    encoder, decoder = make_networks(seed, variational, filters, latent_dim)
    return Autoencoder(encoder, decoder, variational=variational, seed=seed, **kwargs)


def batches(images, batch=BATCH):
    return tf.data.Dataset.from_tensor_slices(images).batch(batch, drop_remainder=True)


def weights_of(model):
    return [w.numpy() for w in model.weights]


def psnr_numpy(clean, restored):
    """PSNR in dB on [0, 1] images, per image."""
    mse = np.mean(((clean - restored) / 2.0) ** 2, axis=(1, 2, 3))
    return 10 * np.log10(1.0 / mse)


# ---------------------------------------------------------------------------------------------
# Losses and metrics against closed forms.


def _pair(seed=0, shape=(3, SIDE, SIDE, 2)):
    rng = np.random.default_rng(seed)
    return (
        rng.uniform(-1, 1, shape).astype(np.float32),
        rng.uniform(-1, 1, shape).astype(np.float32),
    )


def test_l1_l2_and_weighted_losses_against_numpy():
    x, y = _pair()
    l1 = np.mean(np.abs(x - y), axis=(1, 2, 3))
    l2 = np.mean((x - y) ** 2, axis=(1, 2, 3))
    np.testing.assert_allclose(ae_module.reconstruction_loss("l1")(x, y), l1, rtol=1e-5)
    np.testing.assert_allclose(ae_module.reconstruction_loss("l2")(x, y), l2, rtol=1e-5)
    mixed = ae_module.reconstruction_loss({"l1": 1.0, "l2": 0.5})(x, y)
    np.testing.assert_allclose(mixed, l1 + 0.5 * l2, rtol=1e-5)
    # A callable's per-pixel values are averaged per example.
    custom = ae_module.reconstruction_loss(lambda t, p: tf.abs(t - p) ** 3)(x, y)
    np.testing.assert_allclose(custom, np.mean(np.abs(x - y) ** 3, axis=(1, 2, 3)), rtol=1e-5)


def test_ssim_loss_closed_forms():
    x, y = _pair()
    ssim_loss = ae_module.reconstruction_loss("ssim")
    # 1 - SSIM vanishes for identical images and is positive otherwise.
    np.testing.assert_allclose(ssim_loss(x, x), 0.0, atol=1e-6)
    assert np.all(ssim_loss(x, y).numpy() > 0.5)
    # Constant images have no variance, so SSIM reduces to its luminance term
    # (2 mu_x mu_y + C1) / (mu_x^2 + mu_y^2 + C1), C1 = (0.01 * max_val)^2 (Wang et al. 2004).
    a, b = 0.2, 0.7  # on [0, 1]
    ones = np.ones((1, SIDE, SIDE, 1), np.float32)
    c1 = 0.01**2
    expected = (2 * a * b + c1) / (a * a + b * b + c1)
    np.testing.assert_allclose(
        ssim_loss(ones * (2 * a - 1), ones * (2 * b - 1)), [1 - expected], atol=1e-4
    )
    mixed = ae_module.reconstruction_loss({"l1": 1.0, "ssim": 0.2})
    np.testing.assert_allclose(
        mixed(ones * (2 * a - 1), ones * (2 * b - 1)),
        [2 * abs(a - b) + 0.2 * (1 - expected)],
        rtol=1e-4,
    )


def test_evaluate_reports_the_loss_and_kl_of_a_vae(digits):
    images = digits[:64]
    logs = {}
    for weight in (3.0, 0.0):
        model = make_model(variational=True, loss="l2", kl_weight=weight)
        model.compile()
        logs[weight] = model.evaluate(images, batch_size=BATCH, verbose=0, return_dict=True)
    assert set(logs[3.0]) == {"loss", "psnr", "ssim", "kl"}
    z_mean, z_log_var = (t.numpy() for t in model.encoder(images))
    kl = 0.5 * np.sum(z_mean**2 + np.exp(z_log_var) - z_log_var - 1, axis=1)
    np.testing.assert_allclose(logs[3.0]["kl"], kl.mean(), rtol=1e-4)
    # Same weights and seeds, so the same sampled codes: the losses differ by the KL term,
    # kl_weight * KL / (H * W * C).
    np.testing.assert_allclose(
        logs[3.0]["loss"] - logs[0.0]["loss"], 3.0 * kl.mean() / (SIDE * SIDE), rtol=1e-3
    )
    assert logs[3.0]["psnr"] == logs[0.0]["psnr"]


# ---------------------------------------------------------------------------------------------
# The model.


def test_call_is_deterministic_and_in_range(digits):
    model = make_model(variational=True, corruption=corruptions.GaussianNoise(0.5))
    out = model(digits[:5]).numpy()
    assert out.shape == (5, SIDE, SIDE, 1) and out.dtype == np.float32
    assert out.min() >= -1.0 and out.max() <= 1.0
    np.testing.assert_array_equal(out, model(digits[:5]).numpy())
    # The posterior mean, decoded; no corruption.
    z_mean, _ = model.encoder(digits[:5])
    np.testing.assert_allclose(out, model.decoder(z_mean).numpy(), atol=1e-6)


def test_fit_denoises_digits(digits):
    noise = corruptions.GaussianNoise(0.6)
    model = make_model(corruption=noise, filters=16, latent_dim=16)
    model.compile(Adam(1e-2))
    history = model.fit(batches(digits[:1500]), epochs=10, verbose=0)
    assert set(history.history) == {"loss", "psnr", "ssim"}
    losses = history.history["loss"]
    assert losses[-1] < 0.5 * losses[0]
    test = digits[1500:]
    noisy = noise(test, seed=0).numpy()
    restored = model.predict(noisy, verbose=0)
    assert psnr_numpy(test, restored).mean() > psnr_numpy(test, noisy).mean() + 1.5
    # evaluate corrupts with its own seeds, repeats exactly, and reports PSNR on clean targets.
    first = model.evaluate(test, verbose=0, return_dict=True)
    assert first == model.evaluate(test, verbose=0, return_dict=True)
    assert first["psnr"] > psnr_numpy(test, noisy).mean()


def test_default_optimizer_is_tfgen_adam():
    model = make_model()
    model.compile()
    assert isinstance(model.optimizer, Adam)
    np.testing.assert_allclose(float(model.optimizer.learning_rate), 1e-3)


@pytest.mark.parametrize(
    "options",
    [
        {"loss": "ssim", "corruption": corruptions.RandomMask(0.25, 2)},
        {"loss": {"l1": 1.0, "ssim": 0.2}, "variational": True, "kl_weight": 0.5},
    ],
    ids=["ssim_mask", "mixed_vae"],
)
@pytest.mark.parametrize(
    "optimizer", [lambda: Nesterov(0.05), lambda: ConjugateGradient(0.01)], ids=["nag", "cg"]
)
def test_trains_with_other_losses_and_optimizers(digits, options, optimizer):
    model = make_model(**options)
    model.compile(optimizer())
    history = model.fit(batches(digits[:256]), epochs=3, verbose=0)
    losses = history.history["loss"]
    assert np.all(np.isfinite(losses)) and losses[-1] < losses[0]


def test_callable_corruption_is_applied_to_the_inputs_only(digits):
    seen = []

    def blackout(images):
        seen.append(True)
        return tf.zeros_like(images)

    model = make_model(corruption=blackout)
    model.compile(Adam(1e-2))
    model.fit(batches(digits[:128]), epochs=3, verbose=0)
    assert seen
    # The inputs carry nothing, so the best it can do is the mean image.
    out = model(digits[:4]).numpy()
    assert np.abs(out - out[:1]).max() < 1e-4


@pytest.mark.parametrize(
    "options",
    [
        {"corruption": corruptions.GaussianNoise(0.3)},
        {"variational": True, "corruption": corruptions.RandomMask(0.3, 2), "loss": "ssim"},
    ],
    ids=["noise", "vae_mask"],
)
def test_two_replicas_equal_one_device(digits, options, two_replicas):
    results = []
    for strategy in (tf.distribute.get_strategy(), two_replicas):
        with strategy.scope():
            model = make_model(**options)
            model.compile(Adam(1e-2))
        history = model.fit(batches(digits[: 4 * BATCH]), epochs=1, verbose=0)
        results.append((weights_of(model), history.history))
    (weights_one, history_one), (weights_two, history_two) = results
    assert len(weights_one) == len(weights_two)
    for a, b in zip(weights_one, weights_two):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    for name in history_one:
        np.testing.assert_allclose(history_one[name], history_two[name], rtol=1e-4, atol=1e-5)


def test_save_load_continues_like_uninterrupted_training(digits, tmp_path):
    data = batches(digits[: 3 * BATCH])
    options = {"variational": True, "corruption": corruptions.GaussianNoise(0.2)}
    reference = make_model(**options, loss={"l1": 1.0, "ssim": 0.5})
    reference.compile(Adam(1e-2))
    reference.fit(data, epochs=2, verbose=0)

    model = make_model(**options, loss={"l1": 1.0, "ssim": 0.5})
    model.compile(Adam(1e-2))
    model.fit(data, epochs=1, verbose=0)
    path = str(tmp_path / "vae.keras")
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert isinstance(loaded, Autoencoder) and loaded.variational
    assert isinstance(loaded.corruption, corruptions.GaussianNoise)
    assert loaded.reconstruction_loss == {"l1": 1.0, "ssim": 0.5}
    np.testing.assert_array_equal(loaded(digits[:4]), model(digits[:4]))
    assert int(loaded.noise_step.numpy()) == 3
    loaded.fit(data, epochs=1, verbose=0)
    for a, b in zip(
        weights_of(loaded.encoder) + weights_of(loaded.decoder),
        weights_of(reference.encoder) + weights_of(reference.decoder),
    ):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)

    # The decoder ships alone: built-in layers only.
    decoder_path = str(tmp_path / "decoder.keras")
    loaded.decoder.save(decoder_path)
    decoder = keras.saving.load_model(decoder_path, safe_mode=True)
    codes = np.random.default_rng(0).normal(size=(3, LATENT_DIM)).astype(np.float32)
    np.testing.assert_allclose(decoder(codes), loaded.decoder(codes), atol=1e-6)


def test_vae_sibling_and_sampling(digits):
    encoder, decoder = make_networks(variational=True)
    vae = VAE(encoder, decoder, kl_weight=0.1, seed=1)
    assert vae.variational and vae.name == "vae"
    samples = vae.sample(6, seed=3)
    assert samples.shape == (6, SIDE, SIDE, 1) and samples.min() >= 0 and samples.max() <= 1
    np.testing.assert_array_equal(samples, vae.sample(6, seed=3))
    z = tf.random.stateless_normal([6, LATENT_DIM], seed=[3, 0])
    np.testing.assert_allclose(samples, (decoder(z).numpy() + 1) / 2, atol=1e-6)
    restored = VAE.from_config(vae.get_config())
    assert restored.kl_weight == 0.1 and restored.variational
    with pytest.raises(ValueError, match="variational model"):
        make_model().sample(2)
    with pytest.raises(ValueError, match="n must be an int"):
        vae.sample(0)


# ---------------------------------------------------------------------------------------------
# Bad input.


def test_mismatched_networks_are_refused():
    encoder, _ = make_networks(latent_dim=8)
    _, decoder = make_networks(latent_dim=6)
    with pytest.raises(ValueError, match="same latent_dim"):
        Autoencoder(encoder, decoder)
    encoder, _ = make_networks()
    _, decoder = make_networks(channels=3)
    with pytest.raises(ValueError, match="same image_shape"):
        Autoencoder(encoder, decoder)
    variational_encoder, decoder = make_networks(variational=True)
    with pytest.raises(ValueError, match="variational=True"):
        Autoencoder(variational_encoder, decoder)
    with pytest.raises(ValueError, match="two outputs"):
        Autoencoder(encoder, decoder, variational=True)
    with pytest.raises(ValueError, match="built keras.Model"):
        Autoencoder("encoder", decoder)


@pytest.mark.parametrize(
    "options, message",
    [
        ({"loss": "l3"}, "loss must be one of"),
        ({"loss": {"l1": 1.0, "perceptual": 1.0}}, "loss must be one of"),
        ({"loss": {"l1": -1.0}}, "loss must be one of"),
        ({"loss": {}}, "loss must be one of"),
        ({"kl_weight": -1.0}, "kl_weight must be a number >= 0"),
        ({"corruption": "noise"}, "corruption must be None"),
        ({"seed": 1.5}, "seed must be None or an int"),
        ({"variational": "yes"}, "variational must be a bool"),
    ],
)
def test_bad_arguments_are_refused(options, message):
    encoder, decoder = make_networks()
    with pytest.raises(ValueError, match=message):
        Autoencoder(encoder, decoder, **options)


def test_bad_images_are_refused_before_training(digits):
    model = make_model()
    model.compile()
    with pytest.raises(ValueError, match=r"must lie in \[-1, 1\]"):
        model.fit((digits[:64] + 1) * 8, epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"must lie in \[-1, 1\]"):
        model.fit(batches((digits[:64] + 1) * 8), epochs=1, verbose=0)
    with pytest.raises(ValueError, match="rank 4"):
        model.fit(digits[:64, ..., 0], epochs=1, verbose=0)
    with pytest.raises(ValueError, match="rank 4"):
        model(digits[0])
    with pytest.raises(ValueError, match="have shape"):
        model.fit(np.zeros((64, 16, 16, 1), np.float32), epochs=1, verbose=0)
    with pytest.raises(ValueError, match="have shape"):
        model.evaluate(np.zeros((64, 8, 8, 3), np.float32), verbose=0)
    assert int(model.optimizer.iterations.numpy()) == 0
    with pytest.raises(ValueError, match="takes no loss"):
        model.compile(loss="mse")
    with pytest.raises(ValueError, match="maximize"):
        model.compile(Adam(maximize=True))


def test_non_finite_images_are_refused(digits):
    model = make_model()
    model.compile()
    images = digits[:64].copy()
    images[40, 0, 0, 0] = np.inf
    with pytest.raises(ValueError, match=r"training batch 1 .*non-finite"):
        model.fit(batches(images), epochs=1, verbose=0)
    assert int(model.optimizer.iterations.numpy()) == 1
    with pytest.raises(ValueError, match="non-finite"):
        model.fit(images, epochs=1, verbose=0)


def test_one_step_of_a_linear_autoencoder_matches_numpy(digits):
    # encoder z = x We + be, decoder y = z Wd + bd on flattened images, l2 loss, plain SGD:
    # the logged loss and PSNR, and the updated weights, written out in numpy.
    keras.utils.set_random_seed(0)
    encoder = keras.Sequential(
        [keras.Input((SIDE, SIDE, 1)), keras.layers.Flatten(), keras.layers.Dense(3)]
    )
    decoder = keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(SIDE * SIDE), keras.layers.Reshape((SIDE, SIDE, 1))]
    )
    model = Autoencoder(encoder, decoder, loss="l2", seed=0)
    model.compile(keras.optimizers.SGD(0.1))
    images = digits[:BATCH]

    def networks():
        return encoder.get_weights() + decoder.get_weights()

    w_e, b_e, w_d, b_d = (np.asarray(w, np.float64) for w in networks())
    history = model.fit(batches(images), epochs=1, verbose=0).history
    x = images.reshape(BATCH, -1).astype(np.float64)
    z = x @ w_e + b_e
    y = z @ w_d + b_d
    np.testing.assert_allclose(history["loss"][0], np.mean((y - x) ** 2), rtol=1e-5)
    restored = y.reshape(images.shape)
    np.testing.assert_allclose(history["psnr"][0], psnr_numpy(images, restored).mean(), rtol=1e-4)
    d_y = 2.0 * (y - x) / y.size
    d_z = d_y @ w_d.T
    expected = [w_e - 0.1 * x.T @ d_z, b_e - 0.1 * d_z.sum(0)]
    expected += [w_d - 0.1 * z.T @ d_y, b_d - 0.1 * d_y.sum(0)]
    for got, want in zip(networks(), expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)
