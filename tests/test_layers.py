"""Tests for tfgen.layers against numpy's closed forms and Keras' own layers."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfgen import _keras_compat
from tfgen.layers import BatchNormalization, Conv2D

EPSILON = 1e-3
MOMENTUM = 0.9


def _images(shape=(6, 5, 4, 3), seed=0):
    rng = np.random.default_rng(seed)
    # Channels with different means and scales, so that a wrong axis shows.
    return (rng.normal(size=shape) * [0.5, 2.0, 4.0] + [1.0, -3.0, 0.5]).astype(np.float32)


def _reference(x, gamma, beta, upstream):
    """Batch norm of NHWC `x` over (N, H, W) in float64, and its gradients, in closed form."""
    x = x.astype(np.float64)
    mean = x.mean(axis=(0, 1, 2))
    variance = x.var(axis=(0, 1, 2))
    std = np.sqrt(variance + EPSILON)
    normalized = (x - mean) / std
    y = gamma * normalized + beta
    dy = upstream.astype(np.float64)
    # d/dx of the normalised batch (Ioffe & Szegedy 2015, section 3).
    dnormalized = dy * gamma
    dx = (
        dnormalized
        - dnormalized.mean(axis=(0, 1, 2))
        - normalized * (dnormalized * normalized).mean(axis=(0, 1, 2))
    ) / std
    return y, dx, (dy * normalized).sum(axis=(0, 1, 2)), dy.sum(axis=(0, 1, 2)), mean, variance


def _train_call(layer, x, upstream, function=None):
    """Outputs and gradients (inputs, then the layer's trainable weights) of a training call."""

    def run(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, training=True)
            objective = tf.reduce_sum(tf.cast(y, tf.float32) * upstream)
        return y, tape.gradient(objective, [x, *layer.trainable_weights])

    if function is not None:
        run = tf.function(run, jit_compile=function == "xla")
    y, grads = run(tf.constant(x))
    return np.asarray(y), [np.asarray(g) for g in grads]


def _fused_ops(layer, x):
    """Whether a traced training call of `layer` contains TensorFlow's fused batch-norm op."""
    graph = tf.function(lambda x: layer(x, training=True)).get_concrete_function(x).graph
    return any(op.type.startswith("FusedBatchNorm") for op in graph.get_operations())


@pytest.mark.parametrize("function", [None, "graph", "xla"])
@pytest.mark.parametrize("affine", [True, False])
def test_training_call_matches_the_closed_form(function, affine):
    x = _images()
    upstream = np.random.default_rng(1).normal(size=x.shape).astype(np.float32)
    layer = BatchNormalization(momentum=MOMENTUM, epsilon=EPSILON, center=affine, scale=affine)
    layer.build(x.shape)
    gamma = np.array([1.5, -0.5, 2.0]) if affine else np.ones(3)
    beta = np.array([0.1, 0.2, -0.3]) if affine else np.zeros(3)
    if affine:
        layer.gamma.assign(gamma)
        layer.beta.assign(beta)
    y, grads = _train_call(layer, x, upstream, function)
    want_y, want_dx, want_dgamma, want_dbeta, mean, variance = _reference(x, gamma, beta, upstream)
    np.testing.assert_allclose(y, want_y, atol=2e-5)
    np.testing.assert_allclose(grads[0], want_dx, atol=2e-5)
    if affine:
        np.testing.assert_allclose(grads[1], want_dgamma, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(grads[2], want_dbeta, rtol=1e-5, atol=1e-5)
    # Moving statistics from their initial 0 and 1, with the batch's biased variance.
    np.testing.assert_allclose(layer.moving_mean, (1 - MOMENTUM) * mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        layer.moving_variance, MOMENTUM + (1 - MOMENTUM) * variance, rtol=1e-5
    )


def test_matches_keras_layer_over_several_steps_and_in_inference():
    x = [_images(seed=seed) for seed in range(3)]
    ours = BatchNormalization(momentum=MOMENTUM)
    keras_layer = keras.layers.BatchNormalization(momentum=MOMENTUM)
    for layer in (ours, keras_layer):
        layer.build(x[0].shape)
    keras_layer.set_weights(ours.get_weights())
    for batch in x:
        np.testing.assert_allclose(
            ours(batch, training=True), keras_layer(batch, training=True), atol=2e-6
        )
    for mine, theirs in zip(ours.weights, keras_layer.weights):
        np.testing.assert_allclose(mine, theirs, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(ours(x[0]), keras_layer(x[0]), atol=2e-6)


def test_fused_kernel_runs_where_it_applies_and_keras_path_elsewhere():
    x = tf.constant(_images())
    assert _fused_ops(BatchNormalization(), x)
    # One replica (no strategy): a synchronised layer's moments are the local ones.
    assert _fused_ops(BatchNormalization(synchronized=True), x)
    for layer in (
        BatchNormalization(epsilon=1e-6),
        BatchNormalization(axis=1),
        BatchNormalization(renorm=True),
    ):
        assert not _fused_ops(layer, x)
    # Under XLA the separate ops, which XLA fuses better than it expands the fused kernel.
    layer = BatchNormalization()
    graph = (
        tf.function(lambda x: layer(x, training=True), jit_compile=True)
        .get_concrete_function(x)
        .graph
    )
    assert not any(op.type.startswith("FusedBatchNorm") for op in graph.get_operations())
    # Rank 2: Keras' path, same results as Keras.
    flat = np.random.default_rng(0).normal(size=(8, 3)).astype(np.float32)
    np.testing.assert_allclose(
        BatchNormalization()(flat, training=True),
        keras.layers.BatchNormalization()(flat, training=True),
        atol=1e-6,
    )


def test_synchronized_on_two_replicas_matches_the_global_batch(two_replicas):
    """Each replica normalises its half with the global batch's moments: outputs, gradients
    (d gamma and d beta summed over replicas, as the optimizer does) and moving statistics are
    numpy's closed form of the whole batch, over two calls (the second shifted by a nonzero
    moving mean), from fused kernels and one all-reduce each way."""
    strategy = two_replicas
    rng = np.random.default_rng(2)
    batches = [_images((8, 5, 4, 3), seed=seed) for seed in (3, 4)]
    upstreams = [rng.normal(size=batch.shape).astype(np.float32) for batch in batches]
    gamma, beta = np.array([1.5, -0.5, 2.0]), np.array([0.1, 0.2, -0.3])
    with strategy.scope():
        layer = BatchNormalization(momentum=MOMENTUM, epsilon=EPSILON, synchronized=True)
        layer.build(batches[0].shape)
        layer.gamma.assign(gamma)
        layer.beta.assign(beta)

    def halves(array):
        parts = np.split(array, 2)
        return strategy.experimental_distribute_values_from_function(
            lambda context: tf.constant(parts[context.replica_id_in_sync_group])
        )

    @tf.function
    def replicated(x, upstream):
        def train(x, upstream):
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = layer(x, training=True)
                objective = tf.reduce_sum(y * upstream)
            return [y, *tape.gradient(objective, [x, *layer.trainable_weights])]

        return strategy.run(train, args=(x, upstream))

    def local(value):
        return [np.asarray(part) for part in strategy.experimental_local_results(value)]

    moving_mean, moving_variance = np.zeros(3), np.ones(3)
    for x, upstream in zip(batches, upstreams):
        y, dx, dgamma, dbeta = replicated(halves(x), halves(upstream))
        want_y, want_dx, want_dgamma, want_dbeta, mean, variance = _reference(
            x, gamma, beta, upstream
        )
        np.testing.assert_allclose(np.concatenate(local(y)), want_y, atol=2e-5)
        np.testing.assert_allclose(np.concatenate(local(dx)), want_dx, atol=2e-5)
        np.testing.assert_allclose(sum(local(dgamma)), want_dgamma, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(sum(local(dbeta)), want_dbeta, rtol=1e-5, atol=1e-5)
        moving_mean = MOMENTUM * moving_mean + (1 - MOMENTUM) * mean
        moving_variance = MOMENTUM * moving_variance + (1 - MOMENTUM) * variance
        for replica_copy in local(layer.moving_mean):
            np.testing.assert_allclose(replica_copy, moving_mean, rtol=1e-5, atol=1e-6)
        for replica_copy in local(layer.moving_variance):
            np.testing.assert_allclose(replica_copy, moving_variance, rtol=1e-5)
    graph = replicated.get_concrete_function(halves(x), halves(upstream)).graph
    kinds = [op.type for op in graph.get_operations()]
    assert "FusedBatchNormV3" in kinds and "FusedBatchNormGradV3" in kinds, kinds


def test_in_xla_context_tells_xla_functions_apart():
    seen = []

    def probe():
        seen.append(_keras_compat.in_xla_context())
        return tf.constant(0.0)

    assert _keras_compat.GraphOrParentsInXlaContext is not None, (
        "TensorFlow no longer has control_flow_util.GraphOrParentsInXlaContext: update "
        "tfgen/_keras_compat.py"
    )
    probe()
    tf.function(probe)()
    tf.function(probe, jit_compile=True)()
    assert seen == [False, False, True]


def test_mixed_precision_and_serialization(tmp_path):
    x = _images()
    layer = BatchNormalization(dtype="mixed_float16", momentum=MOMENTUM)
    y = layer(tf.constant(x, tf.float16), training=True)
    assert y.dtype == tf.float16
    want = _reference(x, np.ones(3), np.zeros(3), np.zeros_like(x))[0]
    np.testing.assert_allclose(np.asarray(y, np.float32), want, atol=5e-3)

    inputs = keras.Input(x.shape[1:])
    model = keras.Model(inputs, BatchNormalization(momentum=0.5, name="bn")(inputs))
    model(x, training=True)
    model.save(tmp_path / "bn.keras")
    loaded = keras.saving.load_model(tmp_path / "bn.keras")
    assert type(loaded.get_layer("bn")) is BatchNormalization
    assert loaded.get_layer("bn").momentum == 0.5
    np.testing.assert_allclose(loaded(x), model(x), atol=1e-6)


# --- Conv2D ------------------------------------------------------------------------------------


def _numpy_conv(x, kernel, strides, padding):
    """Cross-correlation of NHWC `x` with an HWIO kernel, TensorFlow's padding, in float64."""
    (kh, kw), (sh, sw) = kernel.shape[:2], strides
    pads, sizes = [], []
    for size, k, s in zip(x.shape[1:3], (kh, kw), (sh, sw)):
        out = -(-size // s) if padding == "same" else (size - k) // s + 1
        total = max((out - 1) * s + k - size, 0) if padding == "same" else 0
        pads.append((total // 2, total - total // 2))
        sizes.append(out)
    padded = np.pad(x.astype(np.float64), [(0, 0), *pads, (0, 0)])
    y = np.zeros((x.shape[0], *sizes, kernel.shape[-1]))
    for i in range(sizes[0]):
        for j in range(sizes[1]):
            window = padded[:, i * sh : i * sh + kh, j * sw : j * sw + kw, :]
            y[:, i, j, :] = np.einsum("bhwc,hwco->bo", window, kernel)
    return y


# (input channels, filters, kernel, strides, padding, height x width, expected path)
CONV_CASES = [
    (1, 32, 3, 2, "same", (16, 16), "inputs"),  # a DCGAN discriminator's first layer
    (3, 32, 3, 2, "same", (15, 16), "inputs"),  # RGB, odd side: TensorFlow pads after
    (2, 40, (3, 5), (2, 1), "valid", (11, 12), "inputs"),
    (32, 1, 3, 1, "same", (16, 16), "outputs"),  # a generator's last layer
    (32, 3, (3, 2), 1, "same", (9, 8), "outputs"),  # even kernel side: asymmetric padding
    (32, 3, 3, 1, "valid", (9, 7), "outputs"),
    (3, 32, 4, 2, "same", (16, 16), None),  # 48 patch values > 32 filters: Keras' own
    (32, 1, 3, 2, "same", (16, 16), None),  # few outputs but strided: Keras' own
    (16, 16, 3, 1, "same", (8, 8), None),
]


def _conv_op_types(layer, x, jit_compile):
    graph = tf.function(layer, jit_compile=jit_compile).get_concrete_function(x).graph
    return {op.type for op in graph.get_operations()}


@pytest.mark.parametrize("function", [None, "xla"])
@pytest.mark.parametrize("case", CONV_CASES, ids=[str(c[:5]) for c in CONV_CASES])
def test_conv_matches_numpy_and_keras_gradients(case, function):
    channels, filters, kernel_size, strides, padding, (height, width), path = case
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, height, width, channels)).astype(np.float32)
    ours = Conv2D(filters, kernel_size, strides=strides, padding=padding)
    ours.build(x.shape)
    # The matrix-product form under XLA where it applies; TensorFlow's convolution elsewhere.
    assert ("Conv2D" not in _conv_op_types(ours, x, jit_compile=True)) == (path is not None)
    assert "Conv2D" in _conv_op_types(ours, x, jit_compile=False)
    reference = keras.layers.Conv2D(filters, kernel_size, strides=strides, padding=padding)
    reference.build(x.shape)
    ours.set_weights([ours.kernel.numpy(), rng.normal(size=filters).astype(np.float32)])
    reference.set_weights(ours.get_weights())
    kernel, bias = (w.astype(np.float64) for w in ours.get_weights())
    want = _numpy_conv(x, kernel, ours.strides, padding) + bias
    upstream = rng.normal(size=want.shape).astype(np.float32)

    def outputs_and_gradients(layer):
        def run(x):
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = layer(x)
                objective = tf.reduce_sum(y * upstream)
            return y, tape.gradient(objective, [x, layer.kernel, layer.bias])

        if function is not None:
            run = tf.function(run, jit_compile=True)
        y, grads = run(tf.constant(x))
        return np.asarray(y), [np.asarray(g) for g in grads]

    y, grads = outputs_and_gradients(ours)
    _, want_grads = outputs_and_gradients(reference)
    np.testing.assert_allclose(y, want, atol=1e-5)
    for got, expected in zip(grads, want_grads):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-4)


def test_conv_activation_spectral_norm_and_serialization(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 8, 8, 3)).astype(np.float32)
    inputs = keras.Input((8, 8, 3))
    conv = Conv2D(16, 3, strides=2, padding="same", activation="relu", name="conv")
    wrapped = keras.layers.SpectralNormalization(
        Conv2D(32, 3, padding="same", name="inner"), name="sn"
    )
    model = keras.Model(inputs, wrapped(conv(inputs)))
    model(x, training=True)  # a power iteration: the wrapper rewrites the kernel it calls with
    features = np.asarray(keras.Model(inputs, conv.output)(x))
    kernel, bias = conv.get_weights()
    np.testing.assert_allclose(
        features, np.maximum(_numpy_conv(x, kernel, (2, 2), "same") + bias, 0), atol=1e-5
    )
    model.save(tmp_path / "conv.keras")
    loaded = keras.saving.load_model(tmp_path / "conv.keras")
    assert type(loaded.get_layer("conv")) is Conv2D
    assert type(loaded.get_layer("sn").layer) is Conv2D
    np.testing.assert_allclose(loaded(x), model(x), atol=1e-6)
