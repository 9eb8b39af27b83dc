"""The methods of `minimize`: conjugate gradient with line search, and first-order steps."""

from __future__ import annotations

import math

import tensorflow as tf

from tfgen.optimizers import rules
from tfgen.solvers._common import _EPSILON, _F64, _dot, _value_and_gradients
from tfgen.solvers.line_search import (
    _GROWTH,
    _NOISE_FLOOR,
    _NOISE_ULPS,
    _REFINE_TOLERANCE,
    _strong_wolfe_line_search,
)

# ----------------------------------------------------------------------------------------------
# Methods. Each returns (loss, gradient norm, iterations, function evaluations) as tensors.


def _keep_going(k, f, gnorm, max_iterations, tolerance):
    return (k < max_iterations) & (gnorm > tolerance) & tf.math.is_finite(f)


def _beta(cg_method, g_new, g, d):
    """CG parameter beta_{k+1} over all variables together (`rules.conjugate_gradient_beta`)."""
    y = [a - b for a, b in zip(g_new, g, strict=True)]
    dots = {"g.g": _dot(g_new, g_new), "g_prev.g_prev": _dot(g, g), "g.y": _dot(g_new, y)}
    dots["d_prev.y"] = _dot(d, y)
    return rules.conjugate_gradient_beta(cg_method, dots)


def _conjugate_gradient(
    loss_fn,
    variables,
    max_iterations,
    tolerance,
    cg_method,
    c1,
    c2,
    max_line_search_iterations,
    refine_step,
):
    dtypes = [v.dtype for v in variables]
    # Steps below the variables' resolution cannot move them.
    step_tolerance = max(_machine_epsilon(t) for t in dtypes)
    f, g, loss_dtype = _value_and_gradients(loss_fn, variables)
    gnorm = tf.sqrt(_dot(g, g))
    relative_noise = max(_NOISE_FLOOR, _NOISE_ULPS * _machine_epsilon(loss_dtype))

    def cond(k, evaluations, f, gnorm, g, d, last_change, last_step, steepest, stalled):
        return _keep_going(k, f, gnorm, max_iterations, tolerance) & ~stalled

    def body(k, evaluations, f, gnorm, g, d, last_change, last_step, steepest, stalled):
        slope = _dot(g, d)
        restart = ~(slope < 0.0)  # d is not a descent direction (or is NaN)
        d = [tf.where(restart, -gi, di) for gi, di in zip(g, d, strict=True)]
        slope = tf.where(restart, -gnorm * gnorm, slope)
        steepest = steepest | restart  # d = -g
        # First trial: the same first-order change as the last step (Nocedal & Wright §3.5),
        # alpha_{k-1} <g_{k-1}, d_{k-1}> / <g_k, d_k>, at most 4 alpha_{k-1}: after a very
        # good step the change collapses and the estimate would overshoot by orders of magnitude.
        guess = tf.minimum(last_change / slope, _GROWTH * last_step)
        guess = tf.where(tf.math.is_finite(guess) & (guess > 0.0), guess, 1.0 / gnorm)
        x0 = [tf.identity(v.read_value()) for v in variables]

        def move_to(alpha):
            return [
                v.assign(x + tf.cast(alpha, t) * di)
                for v, x, di, t in zip(variables, x0, d, dtypes, strict=True)
            ]

        def phi(alpha):
            with tf.control_dependencies(move_to(alpha)):
                f_a, g_a, _ = _value_and_gradients(loss_fn, variables)
            return f_a, _dot(g_a, d), g_a

        ls = _strong_wolfe_line_search(
            phi,
            f,
            slope,
            g,
            guess,
            c1=c1,
            c2=c2,
            max_iterations=max_line_search_iterations,
            step_tolerance=step_tolerance,
            value_noise=relative_noise * tf.abs(f),
            refine_tolerance=_REFINE_TOLERANCE if refine_step else None,
        )
        # The last trial need not be the accepted point.
        assigns = move_to(ls.alpha)
        with tf.control_dependencies(assigns):
            g_new = [tf.identity(gi) for gi in ls.extras]
            # A step too small to change any variable (rounding) is no progress either.
            moved = tf.reduce_any(
                tf.stack(
                    [tf.reduce_any(v.read_value() != x) for v, x in zip(variables, x0, strict=True)]
                )
            )
        progress = (ls.alpha > 0.0) & moved
        beta = tf.where(progress, _beta(cg_method, g_new, g, d), 0.0)
        d_new = [
            rules.conjugate_gradient_direction(gn, di, tf.cast(beta, t))
            for gn, di, t in zip(g_new, d, dtypes, strict=True)
        ]
        return (
            k + 1,
            evaluations + ls.function_evaluations,
            ls.value,
            tf.sqrt(_dot(g_new, g_new)),
            g_new,
            d_new,
            tf.where(progress, ls.alpha * slope, last_change),
            tf.where(progress, ls.alpha, last_step),
            beta == 0.0,
            # No decrease even along -g: nothing more to gain at this precision.
            ~progress & steepest,
        )

    init = (
        tf.constant(0, tf.int32),
        tf.constant(1, tf.int32),
        f,
        gnorm,
        g,
        [-gi for gi in g],
        -gnorm,  # makes the first trial step 1 / ||g_0||
        tf.constant(math.inf, _F64),
        tf.constant(True),  # d_0 = -g_0
        tf.constant(False),
    )
    k, evaluations, f, gnorm, *_ = tf.while_loop(cond, body, init, parallel_iterations=1)
    return f, gnorm, k, evaluations


def _machine_epsilon(dtype) -> float:
    return _EPSILON[tf.dtypes.as_dtype(dtype)]


def _first_order(loss_fn, variables, method, max_iterations, tolerance, opts):
    f, g, _ = _value_and_gradients(loss_fn, variables)
    gnorm = tf.sqrt(_dot(g, g))
    lr = opts["learning_rate"]
    n_slots = {"gradient_descent": 0, "nesterov": 1, "adam": 2}[method]
    # Per variable: nesterov keeps the velocity v_t, adam the moments m_t and s_t.
    slots = [[tf.zeros_like(v) for _ in range(n_slots)] for v in variables]

    def update(v, gi, slot, k):
        """Assign one variable's update; return (assign op, new slots)."""
        t = v.dtype
        if method == "gradient_descent":
            return v.assign_sub(rules.to_dtype(lr, t) * gi), []
        if method == "nesterov":
            step, velocity = rules.nesterov(
                gi, slot[0], rules.to_dtype(lr, t), rules.to_dtype(opts["momentum"], t)
            )
            return v.assign_sub(step), [velocity]
        scalars = rules.adam_scalars(lr, opts["beta_1"], opts["beta_2"], opts["epsilon"], k + 1, t)
        step, m, s, _ = rules.adam(gi, slot[0], slot[1], None, scalars)
        return v.assign_sub(step), [m, s]

    def cond(k, f, gnorm, g, slots):
        return _keep_going(k, f, gnorm, max_iterations, tolerance)

    def body(k, f, gnorm, g, slots):
        results = [update(v, gi, slot, k) for v, gi, slot in zip(variables, g, slots, strict=True)]
        with tf.control_dependencies([op for op, _ in results]):
            f_new, g_new, _ = _value_and_gradients(loss_fn, variables)
        return k + 1, f_new, tf.sqrt(_dot(g_new, g_new)), g_new, [new for _, new in results]

    init = (tf.constant(0, tf.int32), f, gnorm, g, slots)
    k, f, gnorm, _, _ = tf.while_loop(cond, body, init, parallel_iterations=1)
    return f, gnorm, k, k + 1
