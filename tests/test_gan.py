"""The GAN model: learning, distribution, saving and bad input."""

import keras
import numpy as np
import pytest
import scipy.linalg
import tensorflow as tf
from gan_setup import BATCH, LATENT_DIM, SIDE, digit_images, make_gan

from tfgen import architectures, losses, runs
from tfgen.models import GAN
from tfgen.optimizers import Adam, Nesterov, rules


@pytest.fixture(scope="module")
def digits():
    return digit_images()


def batches(images, batch=BATCH):
    return tf.data.Dataset.from_tensor_slices(images).batch(batch, drop_remainder=True)


def weights_of(model):
    """The values of a model's weights or of an optimizer's variables."""
    return [w.numpy() for w in getattr(model, "weights", None) or model.variables]


def assert_same_weights(a, b, rtol=1e-5, atol=1e-6):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        np.testing.assert_allclose(x, y, rtol=rtol, atol=atol)


def frechet_distance(x, y):
    """Fréchet distance between Gaussians fitted to two sets of flat vectors (Heusel 2017)."""
    mu_x, mu_y = x.mean(0), y.mean(0)
    cov_x, cov_y = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    root = scipy.linalg.sqrtm(cov_x @ cov_y).real
    return float(np.sum((mu_x - mu_y) ** 2) + np.trace(cov_x + cov_y - 2 * root))


def test_fit_on_digits_learns(digits):
    gan = make_gan(filters=16)
    gan.compile()
    real = digits.reshape(len(digits), -1)
    before = frechet_distance(gan.generate(500, seed=1).reshape(500, -1) * 2 - 1, real)
    history = gan.fit(batches(digits[:1024]), epochs=6, verbose=0)
    after = frechet_distance(gan.generate(500, seed=1).reshape(500, -1) * 2 - 1, real)
    # The discriminator tells real from fake from the first epoch on.
    assert history.history["d_real"][0] > history.history["d_fake"][0]
    assert set(history.history) == {"d_loss", "g_loss", "d_real", "d_fake"}
    # The samples move towards the data: pixel-space Fréchet distance drops by half at least.
    assert after < 0.5 * before, (before, after)
    samples = gan.generate(3, seed=0)
    assert samples.shape == (3, SIDE, SIDE, 1) and samples.min() >= 0 and samples.max() <= 1
    np.testing.assert_array_equal(samples, gan.generate(3, seed=0))


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"loss": "wasserstein", "gradient_penalty": ("wgan_gp", 10.0), "discriminator_steps": 2},
        {"loss": "hinge", "gradient_penalty": ("r1", 1.0), "generator_ema": 0.9},
    ],
    ids=["default", "wgan_gp", "r1_ema"],
)
def test_two_replicas_equal_one_device(digits, options, two_replicas):
    results = []
    for strategy in (tf.distribute.get_strategy(), two_replicas):
        with strategy.scope():
            gan = make_gan()
            gan.compile(**options)
        history = gan.fit(batches(digits[: 4 * BATCH]), epochs=1, verbose=0)
        results.append((weights_of(gan), history.history))
    (weights_one, history_one), (weights_two, history_two) = results
    assert_same_weights(weights_one, weights_two, rtol=1e-4, atol=1e-5)
    for name in history_one:
        np.testing.assert_allclose(history_one[name], history_two[name], rtol=1e-4, atol=1e-5)


def test_partial_last_batch_on_two_replicas_equals_one_device(digits, two_replicas):
    # 70 images in batches of 32: the last batch holds 6, three per replica. (A batch that
    # leaves a replica with no image fails inside TensorFlow: its CPU convolution returns an
    # empty batch with the input's channel count. tfgen.data drops remainders by default.)
    dataset = tf.data.Dataset.from_tensor_slices(digits[:70]).batch(BATCH)
    results = []
    for strategy in (tf.distribute.get_strategy(), two_replicas):
        with strategy.scope():
            gan = make_gan()
            gan.compile()
        history = gan.fit(dataset, epochs=1, verbose=0)
        results.append((weights_of(gan), history.history))
    (weights_one, history_one), (weights_two, history_two) = results
    assert_same_weights(weights_one, weights_two, rtol=1e-4, atol=1e-5)
    for name in history_one:
        np.testing.assert_allclose(history_one[name], history_two[name], rtol=1e-4, atol=1e-5)


def test_optimizers_made_outside_the_scope_are_made_again_inside_it(digits, two_replicas):
    # Their counters and slots must be mirrored variables, updated once per step.
    generator_optimizer, discriminator_optimizer = Adam(3e-4), Adam(1e-4, beta_1=0.3)
    with two_replicas.scope():
        gan = make_gan()
    gan.compile(generator_optimizer, discriminator_optimizer, discriminator_steps=2)
    for given, used in (
        (generator_optimizer, gan.generator_optimizer),
        (discriminator_optimizer, gan.discriminator_optimizer),
    ):
        assert used.get_config() == given.get_config()
        assert used.built and not given.built
        for variable in [used.iterations, *used.variables]:
            assert isinstance(variable.value, tf.distribute.DistributedValues)
    gan.fit(batches(digits[: 3 * BATCH]), epochs=1, verbose=0)
    # Three steps; the discriminator updates twice per step.
    for optimizer, updates in ((gan.generator_optimizer, 3), (gan.discriminator_optimizer, 6)):
        replicas = optimizer.iterations.value.values
        assert len(replicas) == 2
        assert [int(v.numpy()) for v in replicas] == [updates, updates]


def test_discriminator_ascent_equals_descent_on_the_negated_objective(digits, monkeypatch):
    results = []
    for maximize in (False, True):
        gan = make_gan()
        gan.compile(discriminator_optimizer=Nesterov(0.01, maximize=maximize))
        gan.fit(batches(digits[: 3 * BATCH]), epochs=1, verbose=0)
        results.append(weights_of(gan))
    assert_same_weights(*results, rtol=1e-6, atol=1e-7)

    # The same holds if maximize were ignored everywhere; so check its sign by hand: with the
    # GAN's negation of the loss patched out, maximize=True ascends the loss, and the first
    # Nesterov step (linear in the gradient) is the plain descent step reversed.
    steps = []
    for patched in (False, True):
        with monkeypatch.context() as patch:
            if patched:
                patch.setattr(rules, "is_maximizing", lambda optimizer: False)
            gan = make_gan()
            start = weights_of(gan.discriminator)
            gan.compile(discriminator_optimizer=Nesterov(0.01, maximize=patched))
            gan.fit(batches(digits[:BATCH]), epochs=1, verbose=0)
            steps.append([w - w0 for w, w0 in zip(weights_of(gan.discriminator), start)])
    assert max(np.abs(d).max() for d in steps[0]) > 1e-4
    assert_same_weights(steps[1], [-d for d in steps[0]], rtol=1e-4, atol=1e-7)


def test_save_load_and_continue_like_uninterrupted_training(digits, tmp_path):
    data = batches(digits[: 3 * BATCH])
    gan = make_gan()
    gan.compile(
        generator_optimizer=Nesterov(0.01),
        discriminator_optimizer=Adam(1e-3, amsgrad=True),
        loss="least_squares",
        generator_ema=0.5,
    )
    gan.fit(data, epochs=1, verbose=0)
    gan.save(tmp_path / "gan.keras")
    loaded = keras.saving.load_model(tmp_path / "gan.keras", safe_mode=True)

    assert loaded.discriminator_optimizer.amsgrad and loaded.generator_ema == 0.5
    # Both optimizers' slots came back (Keras skips unbuilt optimizers with only a warning).
    for ours, theirs in (
        (gan.generator_optimizer, loaded.generator_optimizer),
        (gan.discriminator_optimizer, loaded.discriminator_optimizer),
    ):
        assert int(theirs.iterations.numpy()) == 3
        assert any(np.any(v.numpy() != 0) for v in theirs.variables[2:])
        assert_same_weights(weights_of(ours), weights_of(theirs), rtol=0, atol=0)
    assert_same_weights(weights_of(gan), weights_of(loaded), rtol=0, atol=0)

    gan.fit(data, epochs=1, verbose=0)
    loaded.fit(data, epochs=1, verbose=0)
    assert_same_weights(weights_of(gan), weights_of(loaded), rtol=1e-6, atol=1e-7)


class _Interrupt(keras.callbacks.Callback):
    def __init__(self, at_batch):
        super().__init__()
        self.at_batch, self.seen = at_batch, 0

    def on_train_batch_end(self, batch, logs=None):
        self.seen += 1
        if self.seen == self.at_batch:
            raise RuntimeError("interrupted")


def test_backup_and_restore_resumes_mid_run(digits, tmp_path):
    data = batches(digits[: 4 * BATCH])
    # XLA or not pinned: "auto" would time steps, and a resumed fit is too short to time.
    uninterrupted = make_gan()
    uninterrupted.compile(jit_compile=False)
    uninterrupted.fit(data, epochs=3, verbose=0)

    # Interrupted in the middle of the second epoch; the backup of the first one remains.
    backup = keras.callbacks.BackupAndRestore(str(tmp_path / "backup"))
    gan = make_gan()
    gan.compile(jit_compile=False)
    with pytest.raises(RuntimeError, match="interrupted"):
        gan.fit(data, epochs=3, verbose=0, callbacks=[backup, _Interrupt(at_batch=6)])
    resumed = make_gan()
    resumed.compile(jit_compile=False)
    for weight in resumed.weights:  # all state must come from the backup
        weight.assign(tf.ones_like(weight))
    resumed.fit(data, epochs=3, verbose=0, callbacks=[backup])
    assert_same_weights(weights_of(uninterrupted), weights_of(resumed), rtol=1e-5, atol=1e-6)


def test_mixed_precision_keeps_outputs_and_losses_float32(digits):
    with runs.dtype_policy(mixed_precision=True):
        gan = make_gan()
        gan.compile()
        history = gan.fit(batches(digits[: 2 * BATCH]), epochs=1, verbose=0)
    assert isinstance(gan.generator_optimizer, keras.optimizers.LossScaleOptimizer)
    assert isinstance(gan.discriminator_optimizer, keras.optimizers.LossScaleOptimizer)
    # The networks compute in float16; their outputs, the losses and the metrics are float32.
    assert gan.discriminator.compute_dtype == "float16"
    assert gan.generator.output.dtype == "float32"
    z = tf.random.normal([4, LATENT_DIM])
    logits = gan.discriminator(gan.generator(z))
    for name in ("non_saturating", "hinge", "wasserstein", "least_squares"):
        pair = losses.get(name)
        assert pair.generator(logits).dtype == tf.float32
        assert pair.discriminator(logits, logits).dtype == tf.float32
    assert all(metric.result().dtype == tf.float32 for metric in gan.metrics)
    assert all(np.isfinite(v[0]) for v in history.history.values())


def test_jit_compile_trains_with_xla(digits):
    # Not compared with graph mode: XLA's stateless random numbers differ from TensorFlow's.
    gan = make_gan()
    gan.compile(jit_compile=True, gradient_penalty=("r1", 1.0))
    assert gan.jit_compile
    history = gan.fit(batches(digits[: 2 * BATCH]), epochs=2, verbose=0)
    assert all(np.all(np.isfinite(v)) for v in history.history.values())
    assert history.history["d_real"][-1] > history.history["d_fake"][-1]


def test_evaluate_reports_the_metrics(digits):
    gan = make_gan()
    gan.compile(loss="wasserstein", gradient_penalty=("wgan_gp", 10.0))
    logs = gan.evaluate(batches(digits[:64]), verbose=0, return_dict=True)
    assert set(logs) == {"d_loss", "g_loss", "d_real", "d_fake", "gradient_penalty"}
    # d_real is the mean logit on the real images, computed here directly.
    real_logits = np.asarray(gan.discriminator(digits[:64], training=False)).ravel()
    np.testing.assert_allclose(logs["d_real"], real_logits.mean(), rtol=1e-4, atol=1e-6)
    # Wasserstein: d_loss = mean f - mean r + 10 * penalty and g_loss = -mean f (Gulrajani 2017).
    want = logs["d_fake"] - logs["d_real"] + 10.0 * logs["gradient_penalty"]
    np.testing.assert_allclose(logs["d_loss"], want, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(logs["g_loss"], -logs["d_fake"], rtol=1e-4, atol=1e-6)
    assert logs["gradient_penalty"] > 0


def test_call_runs_the_sampling_generator():
    gan = make_gan()
    gan.compile(generator_ema=0.9)
    z = tf.random.normal([2, LATENT_DIM])
    np.testing.assert_allclose(gan(z), gan.ema_generator(z, training=False))


# Bad input ---------------------------------------------------------------------------------


def test_images_of_the_wrong_shape_are_refused(digits):
    gan = make_gan()
    gan.compile()
    wrong = tf.image.resize(digits[:64], (16, 16)).numpy()
    with pytest.raises(
        ValueError, match=r"shape \(16, 16, 1\) but the generator makes \(8, 8, 1\)"
    ):
        gan.fit(batches(wrong), epochs=1, verbose=0)


def test_images_outside_minus_one_one_are_refused(digits):
    gan = make_gan()
    gan.compile()
    with pytest.raises(ValueError, match=r"must lie in \[-1, 1\].*\[0, 16\]"):
        gan.fit(batches((digits[:64] + 1) * 8), epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"must lie in \[-1, 1\]"):
        gan.fit((digits[:64] + 1) * 8, batch_size=BATCH, epochs=1, verbose=0)


def test_discriminator_with_more_than_one_logit_is_refused():
    generator = architectures.dcgan_generator((SIDE, SIDE, 1), LATENT_DIM, base_filters=4)
    discriminator = keras.Sequential(
        [keras.Input((SIDE, SIDE, 1)), keras.layers.Flatten(), keras.layers.Dense(10)]
    )
    with pytest.raises(ValueError, match=r"one logit per image.*got \(batch, 10\)"):
        GAN(generator, discriminator)


def test_latent_dim_must_match_the_generator():
    generator = architectures.dcgan_generator((SIDE, SIDE, 1), LATENT_DIM, base_filters=4)
    discriminator = architectures.dcgan_discriminator((SIDE, SIDE, 1), base_filters=4)
    with pytest.raises(ValueError, match=r"latent_dim=8 does not match .* 16"):
        GAN(generator, discriminator, latent_dim=8)


@pytest.mark.parametrize(
    "options, message",
    [
        ({"loss": "softmax"}, r"loss must be one of .*'softmax'"),
        ({"discriminator_steps": -1}, r"discriminator_steps must be an int >= 1 .*got -1"),
        ({"discriminator_steps": 0}, r"discriminator_steps must be an int >= 1 .*got 0"),
        ({"generator_ema": 1.5}, r"generator_ema must be None or a float in \[0, 1\), got 1.5"),
        ({"gradient_penalty": ("dragan", 1.0)}, r"gradient_penalty"),
        ({"optimizer": "adam"}, r"generator_optimizer and discriminator_optimizer, not optimizer"),
    ],
)
def test_bad_compile_arguments_are_refused(options, message):
    gan = make_gan(filters=4)
    with pytest.raises(ValueError, match=message):
        gan.compile(**options)


def test_non_finite_batch_is_refused_naming_it_before_any_update(digits):
    gan = make_gan()
    gan.compile()
    images = digits[: 3 * BATCH].copy()
    images[2 * BATCH + 5, 3, 4, 0] = np.nan  # in the third batch
    before = weights_of(gan)
    with pytest.raises(ValueError, match=r"training batch 2 .*1 non-finite values"):
        gan.fit(batches(images), epochs=1, verbose=0)
    assert int(gan.noise_step.numpy()) == 2  # the two good batches trained, the bad one not
    assert int(gan.generator_optimizer.iterations.numpy()) == 2
    assert any(np.any(a != b) for a, b in zip(before, weights_of(gan)))
    assert all(np.all(np.isfinite(w)) for w in weights_of(gan))


def test_fit_and_evaluate_read_a_dataset_once_per_pass(digits):
    """The input check reads the dataset's element_spec and draws no batch, so the cache and
    shuffle buffer of `tfgen.data.load` fill once, for the training itself."""
    passes = []

    def images():
        passes.append(len(passes))
        yield from digits[: 2 * BATCH]

    spec = tf.TensorSpec((SIDE, SIDE, 1), tf.float32)
    dataset = tf.data.Dataset.from_generator(images, output_signature=spec).batch(BATCH)
    gan = make_gan()
    gan.compile()
    gan.fit(dataset, epochs=2, verbose=0)
    assert len(passes) == 2
    gan.evaluate(dataset, verbose=0)
    assert len(passes) == 3
    wrong = tf.data.Dataset.from_generator(
        images, output_signature=tf.TensorSpec((SIDE, SIDE, 3), tf.float32)
    ).batch(BATCH)
    with pytest.raises(ValueError, match=r"shape \(8, 8, 3\) but the generator makes"):
        gan.fit(wrong, epochs=1, verbose=0)
    assert len(passes) == 3  # refused from its element_spec alone


def test_compile_defaults_are_the_ablation_choices():
    # benchmarks/gan_ablation.py chose Adam's betas (0, 0.9) over DCGAN's (0.5, 0.999).
    gan = make_gan()
    gan.compile()
    for optimizer in (gan.generator_optimizer, gan.discriminator_optimizer):
        assert isinstance(optimizer, Adam)
        assert float(optimizer.learning_rate) == pytest.approx(2e-4)
        assert (optimizer.beta_1, optimizer.beta_2) == (0.0, 0.9)
    assert gan.generator_ema is None and gan.ema_generator is None
    assert gan.loss_functions == losses.get("non_saturating")


def batch_norm_gan():
    """A generator whose images do not depend on the codes and a discriminator with batch norm
    nested in a sub-model (as in the PyTorch DCGAN tutorial)."""
    keras.utils.set_random_seed(3)
    generator = keras.Sequential(
        [
            keras.Input((LATENT_DIM,)),
            keras.layers.Dense(
                SIDE * SIDE, kernel_initializer="zeros", bias_initializer="random_normal"
            ),
            keras.layers.Reshape((SIDE, SIDE, 1)),
            keras.layers.Activation("tanh"),
        ]
    )
    body = keras.Sequential(
        [
            keras.Input((SIDE, SIDE, 1)),
            keras.layers.Conv2D(4, 3, 2),
            keras.layers.BatchNormalization(),
        ]
    )
    images = keras.Input((SIDE, SIDE, 1))
    logit = keras.layers.Dense(1)(keras.layers.Flatten()(keras.layers.LeakyReLU(0.2)(body(images))))
    return GAN(generator, keras.Model(images, logit), seed=0)


def test_discriminator_with_batch_norm_sees_real_and_fake_in_separate_batches(digits):
    gan = batch_norm_gan()
    assert gan.discriminator_batch_norm
    restored = GAN.from_config(gan.get_config())
    assert restored.discriminator_batch_norm
    assert not make_gan().discriminator_batch_norm
    real = digits[:BATCH]
    fake = gan.generator(np.zeros((BATCH, LATENT_DIM), np.float32)).numpy()
    discriminator = keras.models.clone_model(gan.discriminator)
    discriminator.set_weights(gan.discriminator.get_weights())

    def reference_step(one_pass):
        """Non-saturating loss on two separate batches (or one mixed), one SGD(0.5) step."""
        model = keras.models.clone_model(discriminator)
        model.set_weights(discriminator.get_weights())
        with tf.GradientTape() as tape:
            if one_pass:
                real_logits, fake_logits = tf.split(
                    model(np.concatenate([real, fake]), training=True), 2
                )
            else:
                real_logits, fake_logits = model(real, training=True), model(fake, training=True)
            loss = tf.reduce_mean(tf.math.softplus(-real_logits) + tf.math.softplus(fake_logits))
        gradients = tape.gradient(loss, model.trainable_variables)
        return [(v - 0.5 * g).numpy() for v, g in zip(model.trainable_variables, gradients)]

    gan.compile(keras.optimizers.SGD(0.5), keras.optimizers.SGD(0.5), jit_compile=False)
    gan.train_on_batch(real)
    trained = [v.numpy() for v in gan.discriminator.trainable_variables]
    assert_same_weights(trained, reference_step(one_pass=False))
    mixed = reference_step(one_pass=True)
    assert not all(np.allclose(a, b, atol=1e-4) for a, b in zip(trained, mixed))
