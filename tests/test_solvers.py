"""Tests for tfgen.solvers against closed forms, numpy re-implementations and scipy."""

import math

import keras
import numpy as np
import pytest
import scipy.optimize
import tensorflow as tf

from tfgen.optimizers import Adam, Nesterov
from tfgen.solvers import CG_METHODS, MinimizeResult, _strong_wolfe_line_search, minimize

# ----------------------------------------------------------------------------------------------
# Problems.


def _spd_quadratic(n, condition, seed=0):
    """A = Q diag(eigs) Q^T, eigenvalues evenly spread over [1, condition], and b ~ N(0, I)."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    a = (q * np.linspace(1.0, condition, n)) @ q.T
    return 0.5 * (a + a.T), rng.standard_normal(n)


def _quadratic_loss(a, b, x):
    """f(x) = 0.5 x^T A x - b^T x on the tf.Variable x."""
    a, b = tf.constant(a), tf.constant(b)
    return lambda: 0.5 * tf.tensordot(x, tf.linalg.matvec(a, x), 1) - tf.tensordot(b, x, 1)


@pytest.fixture(scope="module")
def ill_conditioned():
    a, b = _spd_quadratic(50, 1e3)
    assert np.linalg.cond(a) == pytest.approx(1e3, rel=1e-6)
    return a, b


def _rosenbrock_np(v):
    return 100.0 * (v[1] - v[0] ** 2) ** 2 + (1.0 - v[0]) ** 2


def _rosenbrock_grad_np(v):
    return np.array(
        [-400.0 * v[0] * (v[1] - v[0] ** 2) - 2.0 * (1.0 - v[0]), 200.0 * (v[1] - v[0] ** 2)]
    )


# ----------------------------------------------------------------------------------------------
# Conjugate gradient and the baselines on an ill-conditioned quadratic.


@pytest.mark.parametrize("cg_method", CG_METHODS)
def test_cg_solves_ill_conditioned_quadratic_within_2n_iterations(ill_conditioned, cg_method):
    a, b = ill_conditioned
    x = tf.Variable(np.zeros(50), dtype=tf.float64)
    result = minimize(_quadratic_loss(a, b, x), [x], cg_method=cg_method)

    assert isinstance(result, MinimizeResult)
    assert result.converged is True
    assert result.iterations <= 2 * 50
    assert result.function_evaluations > result.iterations
    # Reported figures against numpy at the returned point.
    x_np = x.numpy()
    assert result.gradient_norm == pytest.approx(np.linalg.norm(a @ x_np - b), rel=1e-6, abs=1e-12)
    assert result.gradient_norm <= 1e-6
    assert result.loss == pytest.approx(0.5 * x_np @ a @ x_np - b @ x_np, rel=1e-12)
    # ||x - x*|| <= ||A x - b|| / lambda_min = 1e-6.
    np.testing.assert_allclose(x_np, np.linalg.solve(a, b), atol=2e-6)


def test_cg_without_refined_steps_still_converges_but_needs_more_iterations(ill_conditioned):
    a, b = ill_conditioned
    counts = {}
    for refine in (True, False):
        x = tf.Variable(np.zeros(50), dtype=tf.float64)
        result = minimize(_quadratic_loss(a, b, x), [x], refine_step=refine)
        assert result.converged
        np.testing.assert_allclose(x.numpy(), np.linalg.solve(a, b), atol=2e-6)
        counts[refine] = result.iterations
    assert counts[True] < counts[False]


def test_gradient_descent_with_step_one_over_l_does_not_converge_in_1000_iterations(
    ill_conditioned,
):
    a, b = ill_conditioned
    lipschitz = np.linalg.eigvalsh(a).max()
    x = tf.Variable(np.zeros(50), dtype=tf.float64)
    result = minimize(
        _quadratic_loss(a, b, x), [x], "gradient_descent", learning_rate=1.0 / lipschitz
    )
    assert result.converged is False
    assert result.iterations == 1000
    assert result.function_evaluations == 1001
    assert result.gradient_norm > 1e-3

    # numpy reference: the same 1000 steps, then how many it would take to reach 1e-6.
    x_np = np.zeros(50)
    steps = 0
    while np.linalg.norm(a @ x_np - b) > 1e-6:
        x_np -= (a @ x_np - b) / lipschitz
        steps += 1
        if steps == 1000:
            np.testing.assert_allclose(x.numpy(), x_np, rtol=1e-10, atol=1e-12)
            assert result.gradient_norm == pytest.approx(np.linalg.norm(a @ x_np - b), rel=1e-8)
    assert steps > 5000  # thousands of iterations, against CG's <= 100


def test_nesterov_and_adam_reduce_ill_conditioned_quadratic_substantially(ill_conditioned):
    a, b = ill_conditioned
    f_star = -0.5 * b @ np.linalg.solve(a, b)
    initial_gap = 0.0 - f_star
    gaps = {}
    for method, options in [
        ("gradient_descent", {"learning_rate": 1e-3}),
        ("nesterov", {"learning_rate": 1e-3, "momentum": 0.9}),
        ("adam", {"learning_rate": 0.01}),
    ]:
        x = tf.Variable(np.zeros(50), dtype=tf.float64)
        result = minimize(_quadratic_loss(a, b, x), [x], method, **options)
        assert result.iterations == 1000
        assert result.function_evaluations == 1001
        gaps[method] = result.loss - f_star
    assert gaps["nesterov"] < 1e-6 * initial_gap
    assert gaps["adam"] < 1e-2 * initial_gap
    assert gaps["nesterov"] < gaps["gradient_descent"]
    assert gaps["adam"] < gaps["gradient_descent"]


@pytest.mark.parametrize(
    ("method", "options"),
    [
        ("nesterov", {"learning_rate": 0.1, "momentum": 0.5}),
        ("adam", {"learning_rate": 0.1}),
        ("gradient_descent", {"learning_rate": 0.1}),
    ],
)
def test_first_order_methods_converge_on_well_conditioned_quadratic(method, options):
    a, b = _spd_quadratic(10, 10.0, seed=1)
    x = tf.Variable(np.zeros(10), dtype=tf.float64)
    result = minimize(_quadratic_loss(a, b, x), [x], method, **options)
    assert result.converged is True
    assert result.iterations < 1000
    assert result.function_evaluations == result.iterations + 1
    assert np.linalg.norm(a @ x.numpy() - b) <= 1e-6
    np.testing.assert_allclose(x.numpy(), np.linalg.solve(a, b), atol=1e-6)


def test_nesterov_matches_the_momentum_form_of_sutskever_et_al():
    a, b = _spd_quadratic(5, 20.0, seed=2)
    lr, mu, steps = 0.04, 0.9, 25
    x = tf.Variable(np.ones(5), dtype=tf.float64)
    minimize(
        _quadratic_loss(a, b, x),
        [x],
        "nesterov",
        max_iterations=steps,
        tolerance=0.0,
        learning_rate=lr,
        momentum=mu,
    )
    # theta_{t+1} = theta_t + v_{t+1}, v_{t+1} = mu v_t - lr grad f(theta_t + mu v_t); the
    # variables hold the look-ahead point theta_t + mu v_t.
    theta, v = np.ones(5), np.zeros(5)
    for _ in range(steps):
        v = mu * v - lr * (a @ (theta + mu * v) - b)
        theta = theta + v
    np.testing.assert_allclose(x.numpy(), theta + mu * v, rtol=1e-12)


def test_adam_matches_kingma_and_ba_in_the_epsilon_hat_form():
    a, b = _spd_quadratic(5, 20.0, seed=3)
    lr, b1, b2, eps, steps = 0.05, 0.8, 0.99, 1e-6, 30
    x = tf.Variable(np.ones(5), dtype=tf.float64)
    minimize(
        _quadratic_loss(a, b, x),
        [x],
        "adam",
        max_iterations=steps,
        tolerance=0.0,
        learning_rate=lr,
        beta_1=b1,
        beta_2=b2,
        epsilon=eps,
    )
    # Algorithm 1 with the paper's Section 2 remark: the bias corrections move into the step
    # size and epsilon ("epsilon hat") sits beside sqrt(s), as Keras and tfgen.optimizers do.
    theta, m, s = np.ones(5), np.zeros(5), np.zeros(5)
    for t in range(1, steps + 1):
        g = a @ theta - b
        m = b1 * m + (1 - b1) * g
        s = b2 * s + (1 - b2) * g**2
        theta = theta - lr * np.sqrt(1 - b2**t) / (1 - b1**t) * m / (np.sqrt(s) + eps)
    np.testing.assert_allclose(x.numpy(), theta, rtol=1e-12)


def _solver_trajectory(loss_of, x0, method, steps, **options):
    """The iterates x_0 .. x_steps of `minimize`, recorded by the loss at each evaluation."""
    x = tf.Variable(x0)
    trajectory = tf.Variable(tf.zeros((steps + 1, *x0.shape), x0.dtype))
    count = tf.Variable(0)

    def loss_fn():
        trajectory.scatter_nd_update([[count]], [x.read_value()])
        count.assign_add(1)
        return loss_of(x)

    minimize(loss_fn, [x], method, max_iterations=steps, tolerance=0.0, **options)
    assert int(count.numpy()) == steps + 1
    return trajectory.numpy()


def _optimizer_trajectory(loss_of, x0, optimizer, steps):
    x = keras.Variable(x0)
    trajectory = [x.numpy()]
    for _ in range(steps):
        with tf.GradientTape() as tape:
            loss = loss_of(x.value)
        optimizer.apply_gradients([(tape.gradient(loss, x.value), x)])
        trajectory.append(x.numpy())
    return np.stack(trajectory)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(
    ("method", "options", "optimizer"),
    [
        ("nesterov", {"learning_rate": 0.0625, "momentum": 0.8}, Nesterov),
        ("adam", {"learning_rate": 0.0625, "beta_1": 0.8, "beta_2": 0.99, "epsilon": 1e-3}, Adam),
        ("adam", {"learning_rate": 0.0625}, Adam),
    ],
    ids=["nesterov", "adam", "adam-default-betas-epsilon"],
)
def test_solver_and_optimizer_compute_the_same_steps(method, options, optimizer, dtype):
    a, b = _spd_quadratic(4, 10.0, seed=5)
    a, b = tf.constant(a, dtype), tf.constant(b, dtype)

    def loss_of(x):
        return 0.5 * tf.tensordot(x, tf.linalg.matvec(a, x), 1) - tf.tensordot(b, x, 1)

    x0 = np.array([1.0, -2.0, 0.5, 3.0], dtype)
    steps = 8
    ours = _solver_trajectory(loss_of, x0, method, steps, **options)
    theirs = _optimizer_trajectory(loss_of, x0, optimizer(**options), steps)
    # Same rule, same scalars (the learning rate is exact in float32, which Keras stores it in).
    tolerance = {"float32": 1e-6, "float64": 1e-14}[dtype]
    for k in range(steps + 1):
        np.testing.assert_allclose(ours[k], theirs[k], rtol=tolerance, atol=tolerance, err_msg=k)


# ----------------------------------------------------------------------------------------------
# Rosenbrock, against scipy.


def test_cg_on_rosenbrock_matches_scipy_with_one_or_two_variables():
    start = np.array([-1.2, 1.0])
    reference = scipy.optimize.minimize(
        _rosenbrock_np, start, jac=_rosenbrock_grad_np, method="CG", options={"gtol": 1e-8}
    )
    assert reference.success
    np.testing.assert_allclose(reference.x, [1.0, 1.0], atol=1e-6)

    v = tf.Variable(start, dtype=tf.float64)
    whole = minimize(lambda: 100.0 * (v[1] - v[0] ** 2) ** 2 + (1.0 - v[0]) ** 2, [v])
    assert whole.converged
    np.testing.assert_allclose(v.numpy(), reference.x, atol=1e-6)
    assert np.linalg.norm(_rosenbrock_grad_np(v.numpy())) <= 1e-6

    # Split across two variables (different shapes): inner products are global, so the run is
    # the same one.
    x = tf.Variable(start[0], dtype=tf.float64)
    y = tf.Variable([[start[1]]], dtype=tf.float64)
    split = minimize(lambda: 100.0 * (y[0, 0] - x**2) ** 2 + (1.0 - x) ** 2, [x, y])
    assert split.converged
    np.testing.assert_allclose([x.numpy(), y.numpy()[0, 0]], reference.x, atol=1e-6)
    assert (split.iterations, split.function_evaluations) == (
        whole.iterations,
        whole.function_evaluations,
    )


@pytest.mark.parametrize("cg_method", ["fletcher_reeves", "hestenes_stiefel", "dai_yuan"])
def test_other_cg_variants_reach_rosenbrock_minimum(cg_method):
    x = tf.Variable(-1.2, dtype=tf.float64)
    y = tf.Variable(1.0, dtype=tf.float64)
    result = minimize(lambda: 100.0 * (y - x**2) ** 2 + (1.0 - x) ** 2, [x, y], cg_method=cg_method)
    assert result.converged
    np.testing.assert_allclose([x.numpy(), y.numpy()], [1.0, 1.0], atol=1e-5)


# ----------------------------------------------------------------------------------------------
# The line search on 1-D functions (More & Thuente 1994, tables 1-3), checked with numpy.


def _mt1(a):  # phi(a) = -a / (a^2 + 2)
    return -a / (a**2 + 2.0), (a**2 - 2.0) / (a**2 + 2.0) ** 2


def _mt2(a):  # phi(a) = (a + 0.004)^5 - 2 (a + 0.004)^4
    u = a + 0.004
    return u**5 - 2.0 * u**4, 5.0 * u**4 - 8.0 * u**3


def _mt3(a):  # piecewise quadratic-linear plus a wiggle, many local minimisers
    beta, ell = 0.01, 39.0
    if a <= 1.0 - beta:
        p, dp = 1.0 - a, -1.0
    elif a >= 1.0 + beta:
        p, dp = a - 1.0, 1.0
    else:
        p, dp = (a - 1.0) ** 2 / (2.0 * beta) + beta / 2.0, (a - 1.0) / beta
    w = 2.0 * (1.0 - beta) / (ell * math.pi)
    return (
        p + w * math.sin(ell * math.pi * a / 2.0),
        dp + w * (ell * math.pi / 2.0) * math.cos(ell * math.pi * a / 2.0),
    )


@pytest.mark.parametrize("function", [_mt1, _mt2, _mt3], ids=["mt1", "mt2", "mt3"])
@pytest.mark.parametrize("initial_step", [1e-3, 1e-1, 1e1, 1e3])
@pytest.mark.parametrize("refine", [None, 1e-3])
def test_line_search_step_satisfies_strong_wolfe(function, initial_step, refine):
    c1, c2 = 1e-4, 0.1
    calls = []

    def phi(alpha):
        a = float(alpha.numpy())
        calls.append(a)
        value, derivative = function(a)
        extras = tf.constant([a, value], tf.float64)  # carried along with the accepted point
        return tf.constant(value, tf.float64), tf.constant(derivative, tf.float64), extras

    f0, d0 = function(0.0)
    assert d0 < 0.0
    result = _strong_wolfe_line_search(
        phi,
        f0,
        d0,
        tf.constant([0.0, f0], tf.float64),
        initial_step,
        c1=c1,
        c2=c2,
        refine_tolerance=refine,
    )
    alpha = float(result.alpha.numpy())
    value, derivative = function(alpha)
    assert bool(result.found.numpy())
    assert alpha > 0.0
    assert value <= f0 + c1 * alpha * d0  # sufficient decrease
    assert abs(derivative) <= c2 * abs(d0)  # curvature
    assert float(result.value.numpy()) == pytest.approx(value, rel=1e-12)
    assert float(result.derivative.numpy()) == pytest.approx(derivative, rel=1e-12, abs=1e-15)
    np.testing.assert_allclose(result.extras.numpy(), [alpha, value], rtol=1e-12)
    assert int(result.function_evaluations.numpy()) == len(calls)
    assert alpha in calls


def test_line_search_reports_failure_when_nothing_decreases():
    # phi increases along the "descent" direction (a wrong derivative): no step is acceptable.
    result = _strong_wolfe_line_search(
        lambda a: (a * a, 2.0 * a, tf.zeros([2], tf.float64)),
        0.0,
        -1e-12,
        tf.zeros([2], tf.float64),
        1.0,
        max_iterations=10,
    )
    assert not bool(result.found.numpy())
    assert float(result.alpha.numpy()) == 0.0
    assert int(result.function_evaluations.numpy()) <= 10


# ----------------------------------------------------------------------------------------------
# Counting, Keras models, graphs, non-finite losses.


@pytest.mark.parametrize("method", ["conjugate_gradient", "adam"])
def test_function_evaluations_counts_every_loss_evaluation(method):
    calls = tf.Variable(0, dtype=tf.int64)
    x = tf.Variable([3.0, -2.0], dtype=tf.float64)

    def loss_fn():
        calls.assign_add(1)  # runs once per evaluation of the compiled loss
        return tf.reduce_sum((x - 1.0) ** 4 + x**2)

    result = minimize(loss_fn, [x], method, max_iterations=50, tolerance=1e-8)
    assert result.function_evaluations == int(calls.numpy())
    assert result.function_evaluations >= result.iterations + 1


def test_cg_reconstructs_through_a_keras_generator_with_float32_latent():
    keras.utils.set_random_seed(0)
    generator = keras.Sequential(
        [
            keras.Input((8,)),
            keras.layers.Dense(32, activation="tanh"),
            keras.layers.Dense(64, activation="tanh"),
        ]
    )
    z_true = tf.random.normal((1, 8))
    target = generator(z_true)
    z = tf.Variable(z_true + 0.3 * tf.random.normal((1, 8)))
    initial = float(tf.reduce_mean(tf.square(generator(z) - target)))

    result = minimize(lambda: tf.reduce_mean(tf.square(generator(z) - target)), [z], tolerance=1e-7)
    assert z.dtype == tf.float32
    assert result.converged
    assert result.loss < 1e-6 * initial
    np.testing.assert_allclose(generator(z).numpy(), target.numpy(), atol=1e-3)


def test_minimize_inside_tf_function_returns_tensors():
    x = tf.Variable([2.0, -1.0], dtype=tf.float64)

    @tf.function
    def solve():
        return minimize(lambda: tf.reduce_sum((x - 0.5) ** 2), [x], max_iterations=20)

    result = solve()
    assert isinstance(result, MinimizeResult)
    assert bool(result.converged.numpy())
    np.testing.assert_allclose(x.numpy(), [0.5, 0.5], atol=1e-6)


def test_mixed_dtypes_and_unused_variable():
    a = tf.Variable([3.0, -1.0], dtype=tf.float32)
    b = tf.Variable([[0.5]], dtype=tf.float64)
    unused = tf.Variable(7.0, dtype=tf.float64)
    result = minimize(
        lambda: tf.cast(tf.reduce_sum((a - 1.0) ** 2), tf.float64) + tf.reduce_sum((b + 2.0) ** 2),
        [a, b, unused],
    )
    assert result.converged
    np.testing.assert_allclose(a.numpy(), [1.0, 1.0], atol=1e-5)
    np.testing.assert_allclose(b.numpy(), [[-2.0]], atol=1e-5)
    assert unused.numpy() == 7.0


def test_cg_stops_when_the_tolerance_is_below_float64_resolution():
    x = tf.Variable([3.0, -2.0, 0.5], dtype=tf.float64)
    result = minimize(lambda: tf.reduce_sum((x - 1.0 / 3.0) ** 2 + 0.1 * x**4), [x], tolerance=0.0)
    # It stops on its own, long before max_iterations (1000) line searches of 25 evaluations.
    assert result.iterations < 50
    assert result.function_evaluations < 500
    # Minimiser: the real root of 2 (x - 1/3) + 0.4 x^3 = 0.
    roots = np.roots([0.4, 0.0, 2.0, -2.0 / 3.0])
    root = roots[np.abs(roots.imag) < 1e-12].real.item()
    np.testing.assert_allclose(x.numpy(), [root] * 3, rtol=1e-14)
    assert result.gradient_norm < 1e-14
    assert result.converged == (result.gradient_norm == 0.0)


def test_diverging_run_stops_when_the_loss_overflows():
    x = tf.Variable([1.0], dtype=tf.float32)
    # Step 10 on x^2 multiplies x by -19 each iteration: float32 overflows after ~30.
    result = minimize(lambda: tf.reduce_sum(x**2), [x], "gradient_descent", learning_rate=10.0)
    assert result.converged is False
    assert result.iterations < 100
    assert not math.isfinite(result.loss) or not math.isfinite(result.gradient_norm)


# ----------------------------------------------------------------------------------------------
# Bad input.


def _var():
    return tf.Variable([1.0, 2.0])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"method": "lbfgs"}, r"method must be one of .*got 'lbfgs'"),
        ({"cg_method": "newton"}, r"cg_method must be one of .*got 'newton'"),
        ({"max_iterations": 0}, r"max_iterations must be an int in \[1, .*got 0"),
        ({"max_iterations": -5}, r"max_iterations must be an int .*got -5"),
        ({"max_iterations": 2.5}, r"max_iterations must be an int .*got 2.5"),
        ({"tolerance": -1e-3}, r"tolerance must be a number >= 0, got -0.001"),
        ({"tolerance": float("nan")}, r"tolerance must be a number >= 0, got nan"),
        ({"step": 1.0}, r"unknown option step=1.0 for method 'conjugate_gradient'"),
        (
            {"method": "adam", "momentum": 0.9},
            r"unknown option momentum=0.9 for method 'adam'; allowed options: \['beta_1'",
        ),
        ({"method": "nesterov", "learning_rate": 0.0}, r"learning_rate must be .*got 0.0"),
        ({"method": "nesterov", "momentum": 1.0}, r"momentum must be a number in \[0, 1\).*got 1"),
        ({"method": "adam", "beta_2": -0.1}, r"beta_2 must be a number in \[0, 1\).*got -0.1"),
        ({"c1": 0.5, "c2": 0.1}, r"c1 must be smaller than c2 .*c1=0.5, c2=0.1"),
        ({"max_line_search_iterations": 0}, r"max_line_search_iterations must be .*got 0"),
        ({"refine_step": "yes"}, r"refine_step must be a bool, got 'yes'"),
    ],
)
def test_bad_arguments_raise_value_error(kwargs, match):
    x = _var()
    with pytest.raises(ValueError, match=match):
        minimize(lambda: tf.reduce_sum(x**2), [x], **kwargs)
    np.testing.assert_array_equal(x.numpy(), [1.0, 2.0])


@pytest.mark.parametrize(
    ("variables", "match"),
    [
        ([], r"variables must be a non-empty list of tf.Variable, got an empty list"),
        ([tf.Variable([1, 2])], r"variables\[0\] .* must have a floating dtype .*got int32"),
        ([tf.constant([1.0])], r"variables\[0\] must be a tf.Variable, got EagerTensor"),
        (tf.Variable([1.0]), r"variables must be a list of tf.Variable, got a single variable"),
        (None, r"variables must be a non-empty list of tf.Variable, got None"),
    ],
)
def test_bad_variables_raise_value_error(variables, match):
    with pytest.raises(ValueError, match=match):
        minimize(lambda: tf.constant(0.0), variables)


def test_repeated_variable_raises_value_error():
    x = _var()
    with pytest.raises(ValueError, match=r"variables\[1\] .* appears more than once"):
        minimize(lambda: tf.reduce_sum(x**2), [x, x])


@pytest.mark.parametrize("method", ["conjugate_gradient", "adam"])
def test_non_scalar_loss_raises_before_any_update(method):
    x = _var()
    with pytest.raises(ValueError, match=r"loss_fn must return a scalar \(shape \(\)\), got .*2"):
        minimize(lambda: x**2, [x], method)
    np.testing.assert_array_equal(x.numpy(), [1.0, 2.0])


def test_loss_fn_problems_raise_value_error():
    x = _var()
    with pytest.raises(ValueError, match=r"loss_fn must be a callable .*got 3.0"):
        minimize(3.0, [x])
    with pytest.raises(ValueError, match=r"loss_fn must return a floating scalar, got dtype int32"):
        minimize(lambda: tf.reduce_sum(tf.cast(x, tf.int32)), [x])
    with pytest.raises(ValueError, match=r"loss_fn must depend on variables"):
        minimize(lambda: tf.constant(1.0), [x])
    np.testing.assert_array_equal(x.numpy(), [1.0, 2.0])
