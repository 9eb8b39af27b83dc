"""The tfgen optimizers against numpy references, the Keras built-ins and the Keras machinery."""

import keras
import numpy as np
import optimizer_references as reference
import pytest
import tensorflow as tf

from tfgen.optimizers import (
    CONJUGATE_GRADIENT_METHODS,
    Adam,
    ConjugateGradient,
    Nesterov,
    _flat,
    _fused,
)

STEPS = 6
W0 = np.array([1.0, -2.0, 3.0, 0.5], np.float32)
RNG = np.random.default_rng(0)
GRADIENTS = [RNG.standard_normal(4).astype(np.float32) for _ in range(STEPS)]

FACTORIES = {
    "nesterov": lambda **kw: Nesterov(learning_rate=0.05, momentum=0.9, **kw),
    "adam": lambda **kw: Adam(learning_rate=0.05, **kw),
    "conjugate_gradient": lambda **kw: ConjugateGradient(learning_rate=0.05, **kw),
}


def run(optimizer, gradients=GRADIENTS, w0=W0):
    variable = keras.Variable(w0)
    for g in gradients:
        optimizer.apply_gradients([(tf.constant(g), variable)])
    return variable.numpy()


def test_nesterov_matches_reference_trajectory():
    ours = run(Nesterov(learning_rate=0.05, momentum=0.9))
    expected = reference.nesterov(W0, GRADIENTS, [0.05] * STEPS, 0.9)
    np.testing.assert_allclose(ours, expected, rtol=1e-6, atol=1e-6)


def test_nesterov_equals_keras_sgd_under_constant_learning_rate():
    ours = run(Nesterov(learning_rate=0.05, momentum=0.9))
    theirs = run(keras.optimizers.SGD(learning_rate=0.05, momentum=0.9, nesterov=True))
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-6)


def test_nesterov_under_schedule_follows_pytorch_not_keras():
    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=1, decay_rate=0.5)
    ours = run(Nesterov(learning_rate=schedule, momentum=0.9))
    rates = [0.1 * 0.5**k for k in range(STEPS)]
    np.testing.assert_allclose(
        ours, reference.nesterov(W0, GRADIENTS, rates, 0.9), rtol=1e-6, atol=1e-6
    )
    keras_form = run(keras.optimizers.SGD(learning_rate=schedule, momentum=0.9, nesterov=True))
    assert np.max(np.abs(ours - keras_form)) > 1e-3


@pytest.mark.parametrize("amsgrad", [False, True])
def test_adam_matches_reference_and_keras(amsgrad):
    # A gradient that shrinks makes AMSGrad's running maximum differ from v.
    gradients = [g * 0.5**k for k, g in enumerate(GRADIENTS)]
    ours = run(Adam(learning_rate=0.05, beta_2=0.8, amsgrad=amsgrad), gradients)
    expected = reference.adam(W0, gradients, 0.05, 0.9, 0.8, 1e-7, amsgrad=amsgrad)
    np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-6)
    theirs = run(keras.optimizers.Adam(0.05, beta_2=0.8, amsgrad=amsgrad), gradients)
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-6)
    if amsgrad:
        plain = reference.adam(W0, gradients, 0.05, 0.9, 0.8, 1e-7)
        assert np.max(np.abs(expected - plain)) > 1e-4


def test_adam_single_step_closed_form():
    # After one step m_hat / sqrt(v_hat) = sign(g): the weight moves by lr against the
    # gradient's sign, shortened by epsilon, which sits beside sqrt(v) = sqrt(1 - beta_2) |g|.
    g = np.array([1.0, -2.0, 3.0, 4.0])
    w = run(Adam(learning_rate=0.5), [g.astype(np.float32)])
    step = 0.5 * np.sign(g) / (1 + 1e-7 / (np.sqrt(1 - 0.999) * np.abs(g)))
    np.testing.assert_allclose(w, W0 - step, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", ["adam", "nesterov"])
def test_keras_ops_rules_compute_what_the_fused_kernels_compute(name, monkeypatch):
    fused = run(FACTORIES[name]())
    monkeypatch.setattr(_fused, "USE_FUSED_KERNELS", False)
    plain = run(FACTORIES[name]())
    np.testing.assert_allclose(plain, fused, rtol=1e-6, atol=1e-7)
    expected = {
        "adam": lambda: reference.adam(W0, GRADIENTS, 0.05, 0.9, 0.999, 1e-7),
        "nesterov": lambda: reference.nesterov(W0, GRADIENTS, [0.05] * STEPS, 0.9),
    }[name]()
    np.testing.assert_allclose(plain, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["adam", "nesterov"])
def test_step_scalars_are_computed_once_per_step_not_per_variable(name):
    variables = [keras.Variable(np.ones((2, 3), np.float32)) for _ in range(5)]
    optimizer = FACTORIES[name]()
    optimizer.build(variables)
    gradients = [tf.ones((2, 3)) for _ in variables]

    @tf.function
    def step():
        optimizer.apply_gradients(zip(gradients, variables))

    graph = step.get_concrete_function().graph
    ops = [op.type for op in graph.get_operations()]
    assert ops.count("Pow") == (2 if name == "adam" else 0)  # beta_1**t and beta_2**t
    assert ops.count("Cast") <= 3
    kernel = {"adam": "ResourceApplyAdam", "nesterov": "ResourceApplyMomentum"}[name]
    assert ops.count(kernel) == 1  # the five small variables are one flat group


# Small variables (one flat group), one of them a vector, and one above the group size limit.
MANY_SHAPES = [(3, 4), (4,), (4, 1), (1,), (2, 3, 3, 2), (max(_flat.FLAT_MAX_SIZE.values()),)]


def run_many(optimizer, grouped, monkeypatch, steps=4, compiled=False, drop=None):
    """Weights and saved optimizer state after `steps` steps on MANY_SHAPES; `drop` gives one
    variable no gradient on every other step."""
    rng = np.random.default_rng(3)
    variables = [keras.Variable(rng.standard_normal(s).astype(np.float32)) for s in MANY_SHAPES]
    gradients = [
        [tf.constant(rng.standard_normal(s).astype(np.float32)) for s in MANY_SHAPES]
        for _ in range(steps)
    ]
    with monkeypatch.context() as patch:
        if not grouped:
            patch.setattr(_flat, "FLAT_MAX_SIZE", dict.fromkeys(_flat.FLAT_MAX_SIZE, 0))
        optimizer.build(variables)

        def step(grads):
            optimizer.apply_gradients(zip(grads, variables))

        step = tf.function(step) if compiled else step
        for k, grads in enumerate(gradients):
            if drop is not None and k % 2:
                grads = [None if i == drop else g for i, g in enumerate(grads)]
            step(grads)
    store = {}
    optimizer.save_own_variables(store)
    return [v.numpy() for v in variables], store, optimizer


@pytest.mark.parametrize("name", ["adam", "nesterov"])
@pytest.mark.parametrize(
    "options",
    [
        {},
        {"maximize": True},
        {"weight_decay": 0.1},
        {"clipnorm": 0.5},
        {"global_clipnorm": 0.3},
        {"gradient_accumulation_steps": 2},
        {"loss_scale_factor": 8.0},
        {"use_ema": True, "ema_momentum": 0.5},
        {"learning_rate": keras.optimizers.schedules.ExponentialDecay(0.1, 1, 0.5)},
    ],
    ids=lambda o: next(iter(o), "plain"),
)
def test_flat_groups_compute_bit_identical_weights_and_slots(name, options, monkeypatch):
    options = {"learning_rate": 0.05, **options}
    optimizer_class = {"adam": Adam, "nesterov": Nesterov}[name]
    for compiled in (False, True):
        grouped = run_many(optimizer_class(**options), True, monkeypatch, compiled=compiled)
        alone = run_many(optimizer_class(**options), False, monkeypatch, compiled=compiled)
        assert len(grouped[2]._slots.groups) == 1 and not alone[2]._slots.groups
        for a, b in zip(grouped[0], alone[0], strict=True):
            np.testing.assert_array_equal(a, b)
        # Saved as one slot per variable, in the same order and shapes, to the last bit.
        assert grouped[1].keys() == alone[1].keys()
        for key in grouped[1]:
            np.testing.assert_array_equal(grouped[1][key], alone[1][key])


@pytest.mark.parametrize("name", ["adam", "nesterov"])
def test_flat_groups_load_state_saved_by_one_slot_per_variable_and_back(name, monkeypatch):
    _, saved_alone, _ = run_many(FACTORIES[name](), False, monkeypatch)
    _, saved_grouped, _ = run_many(FACTORIES[name](), True, monkeypatch)
    for saved, grouped in ((saved_alone, True), (saved_grouped, False)):
        _, _, fresh = run_many(FACTORIES[name](), grouped, monkeypatch, steps=0)
        fresh.load_own_variables(saved)
        reloaded = {}
        fresh.save_own_variables(reloaded)
        assert reloaded.keys() == saved.keys()
        for key in saved:
            np.testing.assert_array_equal(reloaded[key], saved[key])
    _, _, fresh = run_many(FACTORIES[name](), True, monkeypatch, steps=0)
    with pytest.warns(UserWarning, match="Skipping variable loading"):
        fresh.load_own_variables({"0": np.zeros(())})


@pytest.mark.parametrize("name", ["adam", "nesterov"])
def test_a_grouped_variable_without_gradient_is_left_alone(name, monkeypatch):
    grouped = run_many(FACTORIES[name](), True, monkeypatch, drop=1)
    alone = run_many(FACTORIES[name](), False, monkeypatch, drop=1)
    # Steps with a missing gradient run the plain rule (keras.ops) on slices of the buffers.
    for a, b in zip(grouped[0], alone[0], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    for key in grouped[1]:
        np.testing.assert_allclose(grouped[1][key], alone[1][key], rtol=1e-6, atol=1e-7)


def test_weight_decay_is_decoupled():
    ours = run(Adam(learning_rate=0.05, weight_decay=0.1))
    expected = reference.adam(W0, GRADIENTS, 0.05, 0.9, 0.999, 1e-7, weight_decay=0.1)
    np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-6)
    ours = run(Nesterov(learning_rate=0.05, weight_decay=0.1))
    expected = reference.nesterov(W0, GRADIENTS, [0.05] * STEPS, 0.9, weight_decay=0.1)
    np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("method", CONJUGATE_GRADIENT_METHODS)
@pytest.mark.parametrize("restart_every", [None, 2])
def test_conjugate_gradient_uses_one_global_beta(method, restart_every):
    # Two variables of different shapes: beta's inner products must span both.
    w0 = [np.array([1.0, -2.0, 3.0], np.float32), np.array([[0.5, 1.5], [-1.0, 2.0]], np.float32)]
    steps = [
        [RNG.standard_normal(3).astype(np.float32), RNG.standard_normal((2, 2)).astype(np.float32)]
        for _ in range(STEPS)
    ]
    variables = [keras.Variable(w) for w in w0]
    optimizer = ConjugateGradient(learning_rate=0.1, method=method, restart_every=restart_every)
    for gradients in steps:
        optimizer.apply_gradients(zip([tf.constant(g) for g in gradients], variables))
    expected = reference.conjugate_gradient(w0, steps, 0.1, method, restart_every)
    for variable, want in zip(variables, expected):
        np.testing.assert_allclose(variable.numpy(), want, rtol=1e-5, atol=1e-5)


def test_conjugate_gradient_beta_on_known_sequence():
    # g_prev = (1, 0), g = (1, 1), d_prev = -g_prev: y = (0, 1).
    g_prev, g, d_prev = np.array([1.0, 0.0]), np.array([1.0, 1.0]), np.array([-1.0, 0.0])
    known = {"fletcher_reeves": 2.0, "polak_ribiere": 1.0, "hestenes_stiefel": 0.0, "dai_yuan": 0.0}
    # d_prev . y = 0 makes HS and DY divide by zero: the rule restarts with beta 0.
    for method, beta in known.items():
        variable = keras.Variable(np.zeros(2, np.float32))
        optimizer = ConjugateGradient(learning_rate=1.0, method=method)
        optimizer.apply_gradients([(tf.constant(g_prev, tf.float32), variable)])
        optimizer.apply_gradients([(tf.constant(g, tf.float32), variable)])
        direction = optimizer.directions[0].numpy()
        np.testing.assert_allclose(direction, -g + beta * d_prev, atol=1e-6, err_msg=method)


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_maximize_ascends_like_descent_on_the_negated_gradient(name):
    ascent = run(FACTORIES[name](maximize=True))
    descent = run(FACTORIES[name](), [-g for g in GRADIENTS])
    np.testing.assert_allclose(ascent, descent, rtol=1e-6, atol=1e-7)
    # And it climbs: on f(w) = -|w|^2 the ascent moves towards 0.
    optimizer, variable = FACTORIES[name](maximize=True), keras.Variable(W0)
    for _ in range(5):
        with tf.GradientTape() as tape:
            objective = -tf.reduce_sum(variable * variable)
        optimizer.apply_gradients([(tape.gradient(objective, variable), variable)])
    assert np.linalg.norm(variable.numpy()) < np.linalg.norm(W0)


@pytest.mark.parametrize(
    "options",
    [
        {"clipnorm": 0.5},
        {"clipvalue": 0.1},
        {"global_clipnorm": 0.3},
        {"gradient_accumulation_steps": 2},
        {"loss_scale_factor": 8.0},
        {"use_ema": True, "ema_momentum": 0.5, "ema_overwrite_frequency": 2},
    ],
    ids=lambda o: next(iter(o)),
)
def test_keras_base_features_match_the_builtins(options):
    pairs = [
        (Adam(learning_rate=0.05, **options), keras.optimizers.Adam(0.05, **options)),
        (
            Nesterov(learning_rate=0.05, **options),
            keras.optimizers.SGD(0.05, momentum=0.9, nesterov=True, **options),
        ),
    ]
    for ours, theirs in pairs:
        np.testing.assert_allclose(run(ours), run(theirs), rtol=1e-5, atol=1e-5)


def _small_model(seed=0):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((3,)), keras.layers.Dense(4), keras.layers.Dense(1)])


def _regression_data(n=16):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((n, 3)).astype(np.float32)
    return x, (x @ np.array([[1.0], [-2.0], [0.5]], np.float32)).astype(np.float32)


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_config_round_trip_and_saved_model_state(name, tmp_path):
    optimizer = FACTORIES[name]()
    config = optimizer.get_config()
    clone = type(optimizer).from_config(config)
    assert clone.get_config() == config

    model = _small_model()
    model.compile(optimizer=optimizer, loss="mse")
    x, y = _regression_data()
    model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert type(loaded.optimizer) is type(optimizer)
    for ours, theirs in zip(model.optimizer.variables, loaded.optimizer.variables):
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    # Training goes on from the restored state exactly as it would have.
    model.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False)
    loaded.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False)
    for ours, theirs in zip(model.weights, loaded.weights):
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_fit_with_jit_compile_matches_eager_graph(name):
    x, y = _regression_data()
    weights = []
    for jit in (False, True):
        model = _small_model()
        model.compile(optimizer=FACTORIES[name](), loss="mse", jit_compile=jit)
        history = model.fit(x, y, batch_size=8, epochs=3, verbose=0, shuffle=False)
        weights.append([w.numpy() for w in model.weights])
        assert history.history["loss"][-1] < history.history["loss"][0]
    for a, b in zip(*weights):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_sparse_embedding_gradients_follow_the_dense_rule(name):
    tokens = np.array([[0, 2], [2, 3]], np.int32)
    results = []
    for sparse in (True, False):
        keras.utils.set_random_seed(0)
        embedding = keras.layers.Embedding(5, 3)
        embedding.build((None, 2))
        optimizer = FACTORIES[name]()
        for _ in range(3):
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(embedding(tokens) ** 2)
            gradient = tape.gradient(loss, embedding.embeddings)
            assert isinstance(gradient, tf.IndexedSlices)
            if not sparse:
                gradient = tf.convert_to_tensor(gradient)
            optimizer.apply_gradients([(gradient, embedding.embeddings)])
        results.append(embedding.embeddings.numpy())
    np.testing.assert_allclose(results[0], results[1], rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_mirrored_two_replicas_equal_one_device(name, two_replicas):
    x, y = _regression_data(n=32)
    assert two_replicas.num_replicas_in_sync == 2
    weights = []
    for strategy in (tf.distribute.get_strategy(), two_replicas):
        with strategy.scope():
            model = _small_model()
            model.compile(optimizer=FACTORIES[name](), loss="mse")
        model.fit(x, y, batch_size=16, epochs=3, verbose=0, shuffle=False)
        weights.append([w.numpy() for w in model.weights])
    for one, two in zip(*weights):
        np.testing.assert_allclose(one, two, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_loss_scale_optimizer_wraps_them(name):
    optimizer = keras.optimizers.LossScaleOptimizer(FACTORIES[name](), initial_scale=2.0**10)
    variable = keras.Variable(W0)
    for g in GRADIENTS:
        # The loss was scaled, so the gradient arrives scaled; the wrapper undoes it.
        optimizer.apply_gradients([(tf.constant(g * 2.0**10), variable)])
    np.testing.assert_allclose(variable.numpy(), run(FACTORIES[name]()), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(
    "factory, message",
    [
        (lambda: Nesterov(momentum=1.0), r"momentum must be a float in \[0, 1\), got 1.0"),
        (lambda: Nesterov(momentum=-0.1), r"momentum .* got -0.1"),
        (lambda: Nesterov(learning_rate=-0.01), r"learning_rate must be a number >= 0, got -0.01"),
        (lambda: Adam(beta_1=1.5), r"beta_1 must be a float in \[0, 1\), got 1.5"),
        (lambda: Adam(beta_2=-0.5), r"beta_2 .* got -0.5"),
        (lambda: Adam(epsilon=0.0), r"epsilon must be a float > 0, got 0.0"),
        (lambda: Adam(learning_rate=-1.0), r"learning_rate must be a number >= 0"),
        (lambda: ConjugateGradient(method="newton"), r"method must be one of .*'newton'"),
        (lambda: ConjugateGradient(restart_every=0), r"restart_every must be None or an int"),
        (lambda: ConjugateGradient(learning_rate=-0.1), r"learning_rate must be a number >= 0"),
    ],
)
def test_bad_hyperparameters_name_the_argument(factory, message):
    with pytest.raises(ValueError, match=message):
        factory()


def test_optimizer_names_are_one_list():
    from tfgen import optimizers, runs
    from tfgen.stylize import OPTIMIZERS

    assert runs.TFGEN_OPTIMIZERS is optimizers.NAMES
    assert set(optimizers.NAMES) <= set(OPTIMIZERS)
    for name in optimizers.NAMES:
        assert type(runs.make_optimizer(name, 0.01)).__module__.startswith("tfgen.optimizers")
