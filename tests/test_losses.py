"""Tests for tfgen.losses against closed forms computed independently in numpy."""

import math

import numpy as np
import pytest
import tensorflow as tf

from tfgen import architectures, losses, runs

# float64 numpy references, written naively: fine for the moderate logits of the fixture.


def _sigmoid(t):
    return 1.0 / (1.0 + np.exp(-t))


def _reference(name, real, fake):
    """(generator, discriminator) per-example losses, from the papers' formulas."""
    if name in ("non_saturating", "minimax"):
        d = -np.log(_sigmoid(real)) - np.log(1.0 - _sigmoid(fake))
        if name == "non_saturating":
            g = -np.log(_sigmoid(fake))
        else:
            g = np.log(1.0 - _sigmoid(fake))
        return g, d
    if name == "hinge":
        return -fake, np.maximum(0.0, 1.0 - real) + np.maximum(0.0, 1.0 + fake)
    if name == "wasserstein":
        return -fake, fake - real
    if name == "least_squares":
        return 0.5 * (fake - 1.0) ** 2, 0.5 * (real - 1.0) ** 2 + 0.5 * fake**2
    raise AssertionError(name)


@pytest.fixture
def logits():
    real = np.array([-5.0, 1.4, 12.5, 2.7])
    fake = np.array([3.0, -0.7, -9.0, 0.25])
    return real, fake


@pytest.mark.parametrize("name", losses.LOSSES)
@pytest.mark.parametrize("column", [False, True], ids=["flat", "column"])
def test_losses_match_closed_form(name, column, logits):
    real, fake = logits
    want_g, want_d = _reference(name, real, fake)
    shape = (-1, 1) if column else (-1,)
    real_t = tf.constant(real.reshape(shape), tf.float32)
    fake_t = tf.constant(fake.reshape(shape), tf.float32)
    loss = losses.get(name)
    got_g = loss.generator(fake_t)
    got_d = loss.discriminator(real_t, fake_t)
    for got, want in ((got_g, want_g), (got_d, want_d)):
        assert got.shape == (4,)
        assert got.dtype == tf.float32
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-5, atol=1e-6)


def test_named_functions_are_the_registered_ones():
    for name in losses.LOSSES:
        loss = losses.get(name)
        assert loss.name == name
        assert loss.generator is getattr(losses, f"{name}_generator_loss")
        assert loss.discriminator is getattr(losses, f"{name}_discriminator_loss")


def test_minimax_generator_is_negated_discriminator_fake_term(logits):
    # L_G = log(1 - sigmoid(f)) = -(discriminator's fake term -log(1 - sigmoid(f))).
    _, fake = logits
    got = losses.minimax_generator_loss(fake.astype(np.float32)).numpy()
    np.testing.assert_allclose(got, -np.log1p(np.exp(fake)), rtol=1e-5)


@pytest.mark.parametrize("name", losses.LOSSES)
def test_losses_stable_at_extreme_logits(name):
    real = tf.constant([-100.0, 100.0, -100.0, 100.0])
    fake = tf.constant([100.0, -100.0, -100.0, 100.0])
    loss = losses.get(name)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([real, fake])
        g = loss.generator(fake)
        d = loss.discriminator(real, fake)
    for value in (g, d, *tape.gradient(d, [real, fake]), tape.gradient(g, fake)):
        assert np.all(np.isfinite(value.numpy()))
    if name == "non_saturating":
        # softplus(-f): ~ -f for f -> -inf, ~ 0 for f -> +inf.
        np.testing.assert_allclose(g.numpy(), [0.0, 100.0, 100.0, 0.0], atol=1e-5)
        # softplus(-r) + softplus(f) at (r, f) = (-100, 100): 200.
        np.testing.assert_allclose(d.numpy()[0], 200.0, rtol=1e-6)
        np.testing.assert_allclose(d.numpy()[1], 0.0, atol=1e-6)


def test_float16_logits_give_float32_losses(logits):
    real, fake = logits
    got = losses.non_saturating_discriminator_loss(
        tf.constant(real, tf.float16), tf.constant(fake, tf.float16)
    )
    assert got.dtype == tf.float32
    # The reference sees the same float16-rounded logits, then computes in float64.
    rounded = [a.astype(np.float16).astype(np.float64) for a in (real, fake)]
    want = _reference("non_saturating", *rounded)[1]
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-4, atol=1e-5)


def test_global_batch_average_across_replicas(logits, two_replicas):
    """Per-example losses averaged per replica over the GLOBAL batch sum to the full mean."""
    real, fake = logits
    strategy = two_replicas
    data = tf.data.Dataset.from_tensor_slices(
        (real.astype(np.float32), fake.astype(np.float32))
    ).batch(4)
    dist = strategy.experimental_distribute_dataset(data)

    def step(r, f):
        per_example = losses.hinge_discriminator_loss(r, f)
        return tf.nn.compute_average_loss(per_example, global_batch_size=4)

    batch = next(iter(dist))
    per_replica = strategy.run(step, args=batch)
    total = strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)
    want = _reference("hinge", real, fake)[1].mean()
    np.testing.assert_allclose(total.numpy(), want, rtol=1e-6)


@pytest.mark.parametrize("bad", ["hinge_loss", "", "HINGE", None, 3])
def test_get_unknown_name(bad):
    with pytest.raises(ValueError, match="loss must be one of non_saturating, minimax") as err:
        losses.get(bad)
    assert repr(bad) in str(err.value)


def test_gan_loss_is_frozen():
    loss = losses.get("hinge")
    with pytest.raises(AttributeError):
        loss.name = "other"


@pytest.mark.parametrize(
    "shape",
    [(), (4, 2), (2, 2, 1)],
)
def test_bad_logit_shape(shape):
    bad = tf.zeros(shape)
    with pytest.raises(ValueError, match=r"fake_logits must have shape \(batch,\) or \(batch, 1\)"):
        losses.hinge_generator_loss(bad)


def test_integer_logits_rejected():
    with pytest.raises(ValueError, match="real_logits must be a floating-point tensor"):
        losses.wasserstein_discriminator_loss(tf.constant([1, 2]), tf.constant([1.0, 2.0]))


def test_batch_size_mismatch():
    with pytest.raises(ValueError, match="same batch size, got 3 and 2"):
        losses.least_squares_discriminator_loss(tf.zeros([3]), tf.zeros([2, 1]))


# ---------------------------------------------------------------------------------------------
# Gradient penalties.
# ---------------------------------------------------------------------------------------------

IMAGE_SHAPE = (2, 2, 3)


def _linear_discriminator(w):
    """D(x) = sum(w * x): its input gradient is w at every x."""
    return lambda x: tf.reduce_sum(w * x, axis=[1, 2, 3])


@pytest.fixture
def images():
    rng = np.random.default_rng(0)
    real = rng.uniform(-1, 1, (3, *IMAGE_SHAPE)).astype(np.float32)
    fake = rng.uniform(-1, 1, (3, *IMAGE_SHAPE)).astype(np.float32)
    eps = np.array([0.0, 0.3, 1.0], np.float32).reshape(3, 1, 1, 1)
    return real, fake, eps


def _weights(scale):
    rng = np.random.default_rng(1)
    w = rng.normal(size=IMAGE_SHAPE)
    return (scale * w / np.linalg.norm(w)).astype(np.float32)


@pytest.mark.parametrize("scale", [0.5, 1.0, 3.0])
def test_wgan_gp_linear_discriminator(images, scale):
    real, fake, eps = images
    w = tf.Variable(_weights(scale))
    with tf.GradientTape() as tape:
        penalty = losses.wgan_gp_penalty(_linear_discriminator(w), real, fake, eps)
        mean = tf.reduce_mean(penalty)
    assert penalty.shape == (3,)
    np.testing.assert_allclose(penalty.numpy(), np.full(3, (scale - 1.0) ** 2), atol=1e-5)
    # d/dw (||w|| - 1)^2 = 2 (||w|| - 1) w / ||w||, the same for every example.
    grad = tape.gradient(mean, w).numpy()
    w_np = w.numpy().astype(np.float64)
    norm = np.linalg.norm(w_np)
    np.testing.assert_allclose(grad, 2 * (norm - 1) * w_np / norm, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("scale", [0.5, 2.0])
def test_r1_linear_discriminator(images, scale):
    real, _, _ = images
    w = tf.Variable(_weights(scale))
    with tf.GradientTape() as tape:
        penalty = losses.r1_penalty(_linear_discriminator(w), real)
        mean = tf.reduce_mean(penalty)
    np.testing.assert_allclose(penalty.numpy(), np.full(3, scale**2), rtol=1e-5)
    # d/dw ||w||^2 = 2 w.
    np.testing.assert_allclose(tape.gradient(mean, w).numpy(), 2 * w.numpy(), rtol=1e-5)


def test_penalties_quadratic_discriminator(images):
    """D(x) = sum(x^2) has input gradient 2x."""
    real, fake, eps = images

    def disc(x):
        return tf.reduce_sum(tf.square(x), axis=[1, 2, 3])[:, None]  # (batch, 1) logits

    flat = lambda a: a.reshape(len(a), -1).astype(np.float64)  # noqa: E731
    x_hat = eps * real.astype(np.float64) + (1 - eps) * fake.astype(np.float64)
    want_gp = (np.linalg.norm(2 * flat(x_hat), axis=1) - 1) ** 2
    want_r1 = np.sum((2 * flat(real)) ** 2, axis=1)
    np.testing.assert_allclose(losses.wgan_gp_penalty(disc, real, fake, eps), want_gp, rtol=1e-5)
    np.testing.assert_allclose(losses.r1_penalty(disc, real), want_r1, rtol=1e-5)
    # eps = 0 interpolates to the fake image, eps = 1 to the real one.
    np.testing.assert_allclose(
        losses.wgan_gp_penalty(disc, real, fake, eps.reshape(-1)), want_gp, rtol=1e-5
    )


def test_penalty_weight_gradients_match_finite_differences():
    """Double backprop through a nonlinear D(x) = v . tanh(W^T x), in float64."""
    rng = np.random.default_rng(2)
    real = rng.normal(size=(2, 2, 2, 1))
    fake = rng.normal(size=(2, 2, 2, 1))
    eps = rng.uniform(size=(2, 1, 1, 1))
    w0 = rng.normal(size=(4, 3))
    v = tf.constant(rng.normal(size=(3,)))

    def penalties(w):
        def disc(x):
            return tf.linalg.matvec(tf.tanh(tf.reshape(x, [-1, 4]) @ w), v)

        gp = losses.wgan_gp_penalty(disc, real, fake, eps)
        r1 = losses.r1_penalty(disc, real)
        return tf.reduce_mean(gp), tf.reduce_mean(r1)

    w = tf.Variable(w0)
    with tf.GradientTape(persistent=True) as tape:
        gp, r1 = penalties(w)
    assert gp.dtype == tf.float64
    grads = [tape.gradient(gp, w).numpy(), tape.gradient(r1, w).numpy()]
    h = 1e-6
    for k in range(2):
        fd = np.zeros_like(w0)
        for idx in np.ndindex(w0.shape):
            step = np.zeros_like(w0)
            step[idx] = h
            plus = penalties(tf.constant(w0 + step))[k].numpy()
            minus = penalties(tf.constant(w0 - step))[k].numpy()
            fd[idx] = (plus - minus) / (2 * h)
        assert np.all(np.isfinite(grads[k]))
        np.testing.assert_allclose(grads[k], fd, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("spectral_norm", [False, True])
def test_penalties_with_keras_discriminator(spectral_norm):
    """Real conv discriminator: per-example penalties, finite weight gradients in a tf.function."""
    model = architectures.dcgan_discriminator(
        (8, 8, 1), base_filters=4, spectral_norm=spectral_norm
    )
    rng = np.random.default_rng(3)
    real = tf.constant(rng.uniform(-1, 1, (3, 8, 8, 1)), tf.float32)
    fake = tf.constant(rng.uniform(-1, 1, (3, 8, 8, 1)), tf.float32)
    eps = tf.constant(rng.uniform(size=(3, 1, 1, 1)), tf.float32)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            gp = losses.wgan_gp_penalty(model, real, fake, eps)
            r1 = losses.r1_penalty(model, real)
            total = tf.reduce_mean(gp) + tf.reduce_mean(r1)
        return gp, r1, tape.gradient(total, model.trainable_variables)

    gp, r1, grads = step()
    assert gp.shape == (3,) and r1.shape == (3,)
    assert len(grads) == len(model.trainable_variables) > 0
    for var, grad in zip(model.trainable_variables, grads, strict=True):
        if var.path.endswith("bias"):
            # Input gradients of a piecewise-linear net do not depend on its biases.
            assert grad is None or np.all(grad.numpy() == 0)
        else:
            assert grad is not None and np.all(np.isfinite(grad.numpy()))
            assert np.any(grad.numpy() != 0)
    if not spectral_norm:
        # Examples do not interact: one at a time gives the same penalties.
        for i in range(3):
            one = losses.r1_penalty(model, real[i : i + 1])
            np.testing.assert_allclose(one.numpy(), r1.numpy()[i : i + 1], rtol=1e-5)
            one = losses.wgan_gp_penalty(model, real[i : i + 1], fake[i : i + 1], eps[i : i + 1])
            np.testing.assert_allclose(one.numpy(), gp.numpy()[i : i + 1], rtol=1e-5, atol=1e-7)


def test_penalty_bad_inputs(images):
    real, fake, eps = images
    w = tf.constant(_weights(1.0))
    disc = _linear_discriminator(w)
    with pytest.raises(ValueError, match="real_images and fake_images must have the same shape"):
        losses.wgan_gp_penalty(disc, real, fake[:2], eps)
    with pytest.raises(ValueError, match=r"interpolation_weights must have shape \(batch,\)"):
        losses.wgan_gp_penalty(disc, real, fake, eps.reshape(3, 1))
    with pytest.raises(ValueError, match="interpolation_weights must have shape"):
        losses.wgan_gp_penalty(disc, real, fake, np.ones((3, 2, 1, 1), np.float32))
    with pytest.raises(ValueError, match="real_images must be a floating-point tensor"):
        losses.r1_penalty(disc, real.astype(np.int32))
    with pytest.raises(ValueError, match="real_images must be a batch of images"):
        losses.r1_penalty(disc, np.zeros(3, np.float32))
    with pytest.raises(ValueError, match="does not depend on its input images"):
        losses.r1_penalty(lambda x: tf.zeros([tf.shape(x)[0]]), real)


@pytest.mark.parametrize(
    ("spec", "want"),
    [
        (None, None),
        ("none", None),
        ("", None),
        (("wgan_gp", 10), ("wgan_gp", 10.0)),
        (["r1", 0.1], ("r1", 0.1)),
        ("r1:0.5", ("r1", 0.5)),
        (" wgan_gp : 5 ", ("wgan_gp", 5.0)),
        ("wgan_gp", ("wgan_gp", 10.0)),
        ("r1", ("r1", 10.0)),
        (("r1", np.float32(2.0)), ("r1", 2.0)),
    ],
)
def test_parse_gradient_penalty(spec, want):
    got = losses.parse_gradient_penalty(spec)
    assert got == want
    if got is not None:
        assert isinstance(got, tuple) and type(got[1]) is float


@pytest.mark.parametrize(
    "spec",
    [
        ("gp", 1.0),
        ("r1", 0),
        ("r1", -1.0),
        ("r1", math.nan),
        ("r1", math.inf),
        ("r1", True),
        ("r1", "1"),
        ("r1",),
        ("r1", 1.0, 2.0),
        "r1:abc",
        "r2",
        5,
        {"r1": 1.0},
    ],
)
def test_parse_gradient_penalty_invalid(spec):
    with pytest.raises(
        ValueError, match="gradient_penalty must be None, 'none', \\(name, weight\\)"
    ):
        losses.parse_gradient_penalty(spec)


def test_penalties_under_mixed_precision():
    """float16 compute inside D: float32 penalties close to the float32 model's, with gradients."""
    shape = (8, 8, 1)
    reference = architectures.dcgan_discriminator(shape, base_filters=4)
    with runs.dtype_policy(mixed_precision=True):
        mixed = architectures.dcgan_discriminator(shape, base_filters=4)
    mixed.set_weights(reference.get_weights())
    rng = np.random.default_rng(4)
    real = tf.constant(rng.uniform(-1, 1, (2, *shape)), tf.float32)
    fake = tf.constant(rng.uniform(-1, 1, (2, *shape)), tf.float32)
    eps = tf.constant([[[[0.25]]], [[[0.75]]]], tf.float32)
    for penalty in (
        lambda d: losses.r1_penalty(d, real),
        lambda d: losses.wgan_gp_penalty(d, real, fake, eps),
    ):
        with tf.GradientTape() as tape:
            got = penalty(mixed)
            mean = tf.reduce_mean(got)
        assert got.dtype == tf.float32
        np.testing.assert_allclose(got.numpy(), penalty(reference).numpy(), rtol=2e-2)
        kernels = [v for v in mixed.trainable_variables if v.path.endswith("kernel")]
        for grad in tape.gradient(mean, kernels):
            assert grad is not None and np.all(np.isfinite(grad.numpy()))


# --- image quality and the VAE's KL -----------------------------------------------------------


def test_ssim_and_psnr_closed_forms():
    rng = np.random.default_rng(0)
    x, y = (rng.uniform(-1, 1, (3, 8, 8, 2)).astype(np.float32) for _ in range(2))
    np.testing.assert_allclose(losses.ssim(x, x), 1.0, rtol=1e-5)
    # Constant images have no variance, so SSIM reduces to its luminance term
    # (2 mu_x mu_y + C1) / (mu_x^2 + mu_y^2 + C1), C1 = (0.01 * max_val)^2 (Wang et al. 2004).
    a, b = 0.2, 0.7  # on [0, 1]
    ones = np.ones((1, 8, 8, 1), np.float32)
    expected = (2 * a * b + 1e-4) / (a * a + b * b + 1e-4)
    got = losses.ssim(ones * (2 * a - 1), ones * (2 * b - 1))
    np.testing.assert_allclose(got, [expected], rtol=1e-4)
    # PSNR: 10 log10(1 / MSE) on [0, 1].
    mse = np.mean(((x - y) / 2.0) ** 2, axis=(1, 2, 3))
    np.testing.assert_allclose(losses.psnr(x, y), 10 * np.log10(1.0 / mse), rtol=1e-4)


def test_kl_divergence_against_the_closed_form():
    rng = np.random.default_rng(1)
    mu = rng.normal(size=(4, 6)).astype(np.float32)
    log_var = rng.normal(size=(4, 6)).astype(np.float32)
    expected = 0.5 * np.sum(mu**2 + np.exp(log_var) - log_var - 1, axis=1)
    np.testing.assert_allclose(losses.kl_divergence(mu, log_var), expected, rtol=1e-5)
    np.testing.assert_allclose(losses.kl_divergence(0 * mu, 0 * log_var), 0.0)


# ---------------------------------------------------------------------------------------------
# Pixel losses, against numpy.


def test_l1_l2_are_per_example_means_of_absolute_and_squared_errors():
    rng = np.random.default_rng(3)
    x, y = rng.uniform(-1, 1, (2, 3, 5, 4, 2))
    np.testing.assert_allclose(losses.l1(x, y), np.abs(x - y).mean(axis=(1, 2, 3)), rtol=1e-5)
    np.testing.assert_allclose(losses.l2(x, y), ((x - y) ** 2).mean(axis=(1, 2, 3)), rtol=1e-5)
    np.testing.assert_allclose(losses.dssim(x, x), np.zeros(3), atol=1e-5)


def test_reconstruction_loss_by_name_weights_and_callable():
    rng = np.random.default_rng(4)
    x, y = rng.uniform(-1, 1, (2, 2, 12, 12, 1)).astype(np.float32)
    squared = ((x - y) ** 2).mean(axis=(1, 2, 3))
    np.testing.assert_allclose(losses.reconstruction_loss("l2")(x, y), squared, rtol=1e-5)
    weighted = losses.reconstruction_loss({"l1": 2.0, "l2": 0.5})(x, y)
    expected = 2.0 * np.abs(x - y).mean(axis=(1, 2, 3)) + 0.5 * squared
    np.testing.assert_allclose(weighted, expected, rtol=1e-5)
    custom = losses.reconstruction_loss(lambda a, b: (a - b) ** 2)(x, y)
    np.testing.assert_allclose(custom, squared, rtol=1e-5)


@pytest.mark.parametrize("loss", ["l3", {}, {"l1": -1.0}, {"l1": True}, {"psnr": 1.0}, 3])
def test_reconstruction_loss_refuses_bad_losses_naming_the_argument(loss):
    with pytest.raises(ValueError, match="pixel_loss must be one of"):
        losses.check_reconstruction_loss(loss, "pixel_loss")
    with pytest.raises(ValueError, match="^loss must be one of"):
        losses.reconstruction_loss(loss)
