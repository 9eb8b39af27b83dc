"""Full-batch minimisers for deterministic problems over `tf.Variable`s.

`minimize` drives a loss built from a few variables (for example the latent code of a trained
generator when reconstructing an image) to a minimiser, in place, inside one compiled TensorFlow
loop. It offers nonlinear conjugate gradient with a strong-Wolfe line search, Nesterov's
accelerated gradient, Adam and plain gradient descent, and reports how many loss-and-gradient
evaluations each needed so methods can be compared per evaluation of the underlying model.
"""

from __future__ import annotations

import inspect
import math
import numbers
from collections.abc import Callable
from typing import Any, NamedTuple

import keras
import tensorflow as tf

from tfgen.optimizers import Adam, Nesterov, rules

__all__ = ["CG_METHODS", "METHODS", "MinimizeResult", "minimize"]

METHODS = ("conjugate_gradient", "nesterov", "adam", "gradient_descent")
CG_METHODS = ("polak_ribiere", "fletcher_reeves", "hestenes_stiefel", "dai_yuan")


def _defaults(optimizer, *names):
    """The default values of `optimizer`'s arguments `names`, so that both agree."""
    parameters = inspect.signature(optimizer).parameters
    return {name: parameters[name].default for name in names}


# Each method's options and their defaults (Nocedal & Wright's c1, c2 for CG; the tfgen
# optimizers' defaults for Nesterov and Adam, whose rules they share).
_DEFAULT_OPTIONS: dict[str, dict[str, Any]] = {
    "conjugate_gradient": {
        "cg_method": "polak_ribiere",
        "c1": 1e-4,
        "c2": 0.1,
        "max_line_search_iterations": 25,
        "refine_step": True,
    },
    "nesterov": _defaults(Nesterov, "learning_rate", "momentum"),
    "adam": _defaults(Adam, "learning_rate", "beta_1", "beta_2", "epsilon"),
    "gradient_descent": {"learning_rate": 0.01},
}

# Line-search constants. The largest step tried along one direction:
_MAX_STEP = 1e10
# Zoom trials stay this fraction of the bracket away from its ends:
_ZOOM_MARGIN = 0.03
# Bracketing extrapolates to between 1.1 and _GROWTH times the last step (as Moré & Thuente
# 1994); CG's first trial is at most _GROWTH times the previous accepted step.
_EXTRAPOLATION_LOW = 1.1
_GROWTH = 4.0
# Two zoom trials must shrink the bracket to this fraction of its width, or the next bisects:
_SHRINK = 0.66
# Differences of loss values below max(_NOISE_FLOOR, _NOISE_ULPS * eps) * |f| count as rounding
# noise (Hager & Zhang 2005 use 1e-6 |f|):
_NOISE_FLOOR = 1e-6
_NOISE_ULPS = 100.0
# The refining trial is skipped when the cubic's minimiser is this close (relative) to the step:
_REFINE_TOLERANCE = 1e-3


class MinimizeResult(NamedTuple):
    """Outcome of `minimize` (a NamedTuple, so a `tf.function` can return it).

    Attributes:
        loss: loss at the returned variables.
        gradient_norm: global Euclidean norm of the gradient there (all variables together).
        iterations: iterations taken (updates of the variables, line searches for CG).
        function_evaluations: evaluations of loss_fn with its gradient, line-search trials
            included; the initial evaluation counts as one.
        converged: whether gradient_norm <= tolerance.

    Fields are Python numbers when `minimize` runs eagerly and scalar tensors when it is called
    inside a `tf.function`.
    """

    loss: float
    gradient_norm: float
    iterations: int
    function_evaluations: int
    converged: bool


def minimize(
    loss_fn: Callable[[], Any],
    variables,
    method: str = "conjugate_gradient",
    max_iterations: int = 1000,
    tolerance: float = 1e-6,
    **options,
) -> MinimizeResult:
    """Minimise `loss_fn()` over `variables`, updating them in place.

    The iteration runs as one compiled `tf.while_loop` inside a `tf.function` and stops when the
    global gradient norm ``||g|| = sqrt(sum_v sum(g_v**2))`` is <= `tolerance`, after
    `max_iterations` iterations, when the loss or gradient stops being finite, or (CG only) when
    no step along the steepest-descent direction lowers the loss and changes the variables (the
    tolerance is below what the dtype can resolve).

    Methods (x is all variables together, g = grad f(x)):

    * ``"conjugate_gradient"``: nonlinear conjugate gradient (Fletcher & Reeves 1964; Nocedal &
      Wright, *Numerical Optimization*, 2nd ed., ch. 5.2)::

          x_{k+1} = x_k + alpha_k d_k,   d_0 = -g_0,   d_{k+1} = -g_{k+1} + beta_{k+1} d_k

      with alpha_k from a line search satisfying the strong Wolfe conditions (see below) and,
      for y_k = g_{k+1} - g_k and all inner products taken over all variables together,

      - ``"polak_ribiere"`` (default), PR+ (Polak & Ribiere 1969, Polyak 1969; clipped at 0
        as in Gilbert & Nocedal 1992): beta = max(0, <g_{k+1}, y_k> / <g_k, g_k>)
      - ``"fletcher_reeves"`` (Fletcher & Reeves 1964): beta = <g_{k+1}, g_{k+1}> / <g_k, g_k>
      - ``"hestenes_stiefel"`` (Hestenes & Stiefel 1952): beta = <g_{k+1}, y_k> / <d_k, y_k>
      - ``"dai_yuan"`` (Dai & Yuan 1999): beta = <g_{k+1}, g_{k+1}> / <d_k, y_k>

      Whenever <g_k, d_k> >= 0 (d_k is not a descent direction) the direction restarts as
      d_k = -g_k. The line search's first trial keeps the first-order change of the last step,
      alpha = alpha_{k-1} <g_{k-1}, d_{k-1}> / <g_k, d_k> (Nocedal & Wright §3.5), capped at
      4 alpha_{k-1}; the very first is 1 / ||g_0||.

      Options: `cg_method`; `c1` (default 1e-4) and `c2` (default 0.1), the Wolfe constants;
      `max_line_search_iterations` (default 25), evaluations per line search;
      `refine_step` (default True): when the accepted strong Wolfe point lies more than 0.1%
      from the minimiser of the cubic through it and the previous point, evaluate once more
      at that minimiser and keep it if it is also a strong Wolfe point and lower. The cubic is
      exact on quadratics, so steps are exact there and CG keeps its directions conjugate (the
      role of Hager & Zhang's 2006 QuadStep); with c2 = 0.1 alone, steps may be 10% off and
      CG needs two to four times the iterations on an ill-conditioned quadratic.

    * ``"nesterov"``: Nesterov's accelerated gradient in the momentum form of Sutskever, Martens,
      Dahl & Hinton, "On the importance of initialization and momentum in deep learning"
      (ICML 2013), written as PyTorch's `SGD(nesterov=True)`::

          v_{t+1} = mu v_t + g(x_t),   x_{t+1} = x_t - lr (g(x_t) + mu v_{t+1})

      The variables hold Sutskever et al.'s look-ahead point, so each iteration costs one
      gradient, taken at the point stored in the variables. This is `rules.nesterov`, the
      rule of `tfgen.optimizers.Nesterov`, which computes the same numbers. Options:
      `learning_rate` lr (default 0.01), `momentum` mu (default 0.9).

    * ``"adam"``: Kingma & Ba, "Adam: A Method for Stochastic Optimization" (ICLR 2015), in the
      form of their Section 2 remark ("epsilon hat", as Keras and TensorFlow compute it)::

          m_t = b1 m_{t-1} + (1 - b1) g_t,       s_t = b2 s_{t-1} + (1 - b2) g_t**2
          x_t = x_{t-1} - lr sqrt(1 - b2**t) / (1 - b1**t) m_t / (sqrt(s_t) + epsilon)

      This is `rules.adam`, the rule of `tfgen.optimizers.Adam`, which computes the same
      numbers. Options and defaults as that optimizer's: `learning_rate` (0.001), `beta_1`
      (0.9), `beta_2` (0.999), `epsilon` (1e-7).

    * ``"gradient_descent"``: x_{k+1} = x_k - lr g_k (Cauchy 1847). Option: `learning_rate`
      (default 0.01).

    Strong Wolfe conditions on phi(alpha) = f(x_k + alpha d_k), with 0 < c1 < c2 < 1::

        phi(alpha) <= phi(0) + c1 alpha phi'(0)          (sufficient decrease)
        |phi'(alpha)| <= c2 |phi'(0)|                    (curvature)

    The step is found by Nocedal & Wright's Algorithm 3.5 (bracketing, extrapolating by cubic
    interpolation) and Algorithm 3.6 (zoom, cubic interpolation with a quadratic then bisection
    fallback, kept away from the bracket's ends, bisecting when two trials shrink the bracket
    by less than a third, as Moré & Thuente 1994). Near a minimiser, differences of loss
    values below their rounding error (max(1e-6, 100 eps) |f|) are replaced by the trapezoid
    estimate from directional derivatives, which is exact for quadratics: Hager & Zhang's
    (2005) approximate Wolfe conditions. If the search ends without a strong Wolfe step it
    takes the lowest sufficient-decrease point it found; if none, or if the step is too small
    to change any variable, CG restarts with steepest descent, and stops when steepest descent
    fares no better.

    Args:
        loss_fn: callable with no arguments returning a scalar floating tensor computed from
            `variables`. It may close over Keras models (build them first). It is traced once
            into a `tf.function` without AutoGraph, so control flow that depends on tensor
            values must use `tf.cond` / `tf.where`.
        variables: non-empty list of floating `tf.Variable`s (or Keras variables), any shapes;
            dtypes may differ. Scalar arithmetic of the solver runs in float64.
        method: one of `METHODS`.
        max_iterations: positive int, the most iterations to run.
        tolerance: non-negative number; stop once the global gradient norm is <= tolerance.
        **options: the chosen method's options listed above.

    Returns:
        A `MinimizeResult`.

    Raises:
        ValueError: for an unknown method or option, an invalid option value, max_iterations
            < 1, a negative tolerance, empty or non-floating variables, or a loss_fn that does
            not return a floating scalar depending on `variables`; always before any variable
            is changed.
    """
    if not callable(loss_fn):
        raise ValueError(f"loss_fn must be a callable taking no arguments, got {loss_fn!r}")
    if not isinstance(method, str) or method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if (
        isinstance(max_iterations, bool)
        or not isinstance(max_iterations, numbers.Integral)
        or not 1 <= max_iterations <= _INT32_MAX
    ):
        raise ValueError(
            f"max_iterations must be an int in [1, {_INT32_MAX}], got {max_iterations!r}"
        )
    if (
        isinstance(tolerance, bool)
        or not isinstance(tolerance, numbers.Real)
        or not tolerance >= 0  # also rejects NaN
    ):
        raise ValueError(f"tolerance must be a number >= 0, got {tolerance!r}")
    variables = _check_variables(variables)
    opts = _check_options(method, options)
    max_iterations = int(max_iterations)
    tolerance = float(tolerance)

    def run():
        if method == "conjugate_gradient":
            return _conjugate_gradient(loss_fn, variables, max_iterations, tolerance, **opts)
        return _first_order(loss_fn, variables, method, max_iterations, tolerance, opts)

    if not tf.executing_eagerly():
        # Already inside a graph: build the loop there (without AutoGraph, as below) and hand
        # back tensors.
        loss, gnorm, iterations, evaluations = tf.autograph.experimental.do_not_convert(run)()
        return MinimizeResult(loss, gnorm, iterations, evaluations, gnorm <= tolerance)
    # A fresh tf.function per call; a ValueError from loss_fn's checks is raised while tracing,
    # before anything runs. The loop is written with tf.while_loop, so AutoGraph is not needed
    # (and would wrap those errors' messages).
    loss, gnorm, iterations, evaluations = tf.function(run, autograph=False)()
    gnorm = float(gnorm.numpy())
    return MinimizeResult(
        loss=float(loss.numpy()),
        gradient_norm=gnorm,
        iterations=int(iterations.numpy()),
        function_evaluations=int(evaluations.numpy()),
        converged=gnorm <= tolerance,
    )


# ----------------------------------------------------------------------------------------------
# Argument checks.


def _check_variables(variables) -> list[tf.Variable]:
    if isinstance(variables, (tf.Variable, keras.Variable)):
        raise ValueError(
            f"variables must be a list of tf.Variable, got a single variable {variables!r}; "
            "wrap it in a list"
        )
    try:
        variables = list(variables)
    except TypeError:
        raise ValueError(
            f"variables must be a non-empty list of tf.Variable, got {variables!r}"
        ) from None
    if not variables:
        raise ValueError("variables must be a non-empty list of tf.Variable, got an empty list")
    checked = []
    for i, v in enumerate(variables):
        if isinstance(v, keras.Variable) and isinstance(getattr(v, "value", None), tf.Variable):
            v = v.value  # the backing tf.Variable of a Keras variable
        if not isinstance(v, tf.Variable):
            raise ValueError(f"variables[{i}] must be a tf.Variable, got {type(v).__name__}: {v!r}")
        if not v.dtype.is_floating:
            raise ValueError(
                f"variables[{i}] ({v.name}) must have a floating dtype (float16, bfloat16, "
                f"float32 or float64), got {v.dtype.name}"
            )
        if any(v is w for w in checked):
            raise ValueError(f"variables[{i}] ({v.name}) appears more than once in variables")
        checked.append(v)
    return checked


def _check_options(method: str, options: dict[str, Any]) -> dict[str, Any]:
    defaults = _DEFAULT_OPTIONS[method]
    for name in options:
        if name not in defaults:
            raise ValueError(
                f"unknown option {name}={options[name]!r} for method {method!r}; "
                f"allowed options: {sorted(defaults)}"
            )
    opts = {**defaults, **options}

    def real(name, low, high, low_open=False, high_open=False):
        value = opts[name]
        ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
        ok = ok and math.isfinite(value)
        ok = ok and (value > low if low_open else value >= low)
        ok = ok and (value < high if high_open else value <= high)
        if not ok:
            lb, hb = "(" if low_open else "[", ")" if high_open else "]"
            raise ValueError(
                f"{name} must be a number in {lb}{low}, {high}{hb} for method {method!r}, "
                f"got {value!r}"
            )
        return float(value)

    if "learning_rate" in opts:
        opts["learning_rate"] = real("learning_rate", 0, math.inf, low_open=True, high_open=True)
    if method == "nesterov":
        opts["momentum"] = real("momentum", 0, 1, high_open=True)
    if method == "adam":
        opts["beta_1"] = real("beta_1", 0, 1, high_open=True)
        opts["beta_2"] = real("beta_2", 0, 1, high_open=True)
        opts["epsilon"] = real("epsilon", 0, math.inf, high_open=True)
    if method == "conjugate_gradient":
        if opts["cg_method"] not in CG_METHODS:
            raise ValueError(f"cg_method must be one of {CG_METHODS}, got {opts['cg_method']!r}")
        opts["c1"] = real("c1", 0, 1, low_open=True, high_open=True)
        opts["c2"] = real("c2", 0, 1, low_open=True, high_open=True)
        if not opts["c1"] < opts["c2"]:
            raise ValueError(
                f"c1 must be smaller than c2 (0 < c1 < c2 < 1), got c1={opts['c1']!r}, "
                f"c2={opts['c2']!r}"
            )
        n = opts["max_line_search_iterations"]
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
            raise ValueError(f"max_line_search_iterations must be an int >= 1, got {n!r}")
        opts["max_line_search_iterations"] = int(n)
        if not isinstance(opts["refine_step"], bool):
            raise ValueError(f"refine_step must be True or False, got {opts['refine_step']!r}")
    return opts


# ----------------------------------------------------------------------------------------------
# Shared pieces. Scalars (losses, inner products, steps) are float64; per-variable tensors keep
# their variable's dtype.

_F64 = tf.float64
_INT32_MAX = 2**31 - 1  # iteration counters are int32
_EPSILON = {tf.float16: 2.0**-10, tf.bfloat16: 2.0**-7, tf.float32: 2.0**-23, tf.float64: 2.0**-52}


def _dot(xs, ys):
    """Inner product over all variables together, as a float64 scalar."""
    total = tf.constant(0.0, _F64)
    for x, y in zip(xs, ys, strict=True):
        if x.dtype in (tf.float16, tf.bfloat16):
            # Half-precision sums overflow easily; accumulate in float32.
            x, y = tf.cast(x, tf.float32), tf.cast(y, tf.float32)
        total += tf.cast(tf.reduce_sum(x * y), _F64)
    return total


def _to(x, dtype):
    """x as a tensor of dtype; Python numbers go straight to dtype (tf.cast would round them
    through float32 first)."""
    return tf.cast(x, dtype) if tf.is_tensor(x) else tf.constant(x, dtype)


def _value_and_gradients(loss_fn, variables):
    """loss_fn() as float64 and its gradients (dense, zero where unconnected)."""
    with tf.GradientTape(watch_accessed_variables=False) as tape:
        for v in variables:
            tape.watch(v)
        loss = loss_fn()
        if not tf.is_tensor(loss):
            loss = tf.convert_to_tensor(loss)
    if loss.shape.rank != 0:
        raise ValueError(
            f"loss_fn must return a scalar (shape ()), got a tensor of shape {loss.shape}"
        )
    if not loss.dtype.is_floating:
        raise ValueError(f"loss_fn must return a floating scalar, got dtype {loss.dtype.name}")
    grads = tape.gradient(loss, variables)
    if all(g is None for g in grads):
        raise ValueError(
            "loss_fn must depend on variables, but its gradient with respect to every variable "
            "is None (was the loss computed outside TensorFlow, or from copies of the variables?)"
        )
    grads = [
        tf.zeros_like(v) if g is None else tf.convert_to_tensor(g)
        for g, v in zip(grads, variables, strict=True)
    ]
    return tf.cast(loss, _F64), grads, loss.dtype


# ----------------------------------------------------------------------------------------------
# Strong Wolfe line search (Nocedal & Wright, Algorithms 3.5 and 3.6).


class _LineSearchResult(NamedTuple):
    alpha: tf.Tensor  # accepted step (0 when no point lowered the function)
    value: tf.Tensor  # phi(alpha)
    derivative: tf.Tensor  # phi'(alpha)
    extras: Any  # what phi returned besides value and derivative, at alpha
    function_evaluations: tf.Tensor  # int32, evaluations of phi
    found: tf.Tensor  # bool, alpha satisfies the strong Wolfe conditions


def _difference(fa, fb, a, b, da, db, noise):
    """fa - fb, or its trapezoid estimate (a - b)(da + db) / 2 when |fa - fb| is within noise.

    Near a minimiser, function values differ by less than their rounding error while the
    directional derivatives are still accurate; the trapezoid rule is exact for quadratics.
    This is the idea behind Hager & Zhang's (2005) approximate Wolfe conditions.
    """
    exact = fa - fb
    return tf.where(tf.abs(exact) <= noise, 0.5 * (a - b) * (da + db), exact)


def _cubic_minimizer(a, da, b, db, fa_minus_fb):
    """Minimiser of the cubic through (a, fa, da), (b, fb, db), and whether it is one.

    Nocedal & Wright §3.5; takes fa - fb rather than the values (see `_difference`).
    """
    d1 = da + db - 3.0 * fa_minus_fb / (a - b)
    radicand = d1 * d1 - da * db
    d2 = tf.sign(b - a) * tf.sqrt(tf.maximum(radicand, 0.0))
    c = b - (b - a) * (db + d2 - d1) / (db - da + 2.0 * d2)
    return c, (radicand >= 0.0) & tf.math.is_finite(c)


def _quadratic_minimizer(a, da, b, fa_minus_fb):
    """Minimiser of the quadratic through (a, fa, da) and (b, fb), and whether it is one."""
    # q(t) = fa + da (t - a) + C (t - a)^2 with C (b - a)^2 = fb - fa - da (b - a).
    curvature = -fa_minus_fb - da * (b - a)
    c = a - da * (b - a) ** 2 / (2.0 * curvature)
    return c, (curvature > 0.0) & tf.math.is_finite(c)


def _zoom_trial(a_lo, f_lo, d_lo, a_hi, f_hi, d_hi, noise, margin):
    """Next zoom trial: cubic, else quadratic, else bisection, kept `margin` inside the bracket."""
    diff = _difference(f_lo, f_hi, a_lo, a_hi, d_lo, d_hi, noise)
    cubic, cubic_ok = _cubic_minimizer(a_lo, d_lo, a_hi, d_hi, diff)
    quad, quad_ok = _quadratic_minimizer(a_lo, d_lo, a_hi, diff)
    mid = 0.5 * (a_lo + a_hi)
    trial = tf.where(cubic_ok, cubic, tf.where(quad_ok, quad, mid))
    # Clamping rather than bisecting keeps the model's information when it lands near an end.
    width = margin * tf.abs(a_hi - a_lo)
    low, high = tf.minimum(a_lo, a_hi) + width, tf.maximum(a_lo, a_hi) - width
    trial = tf.clip_by_value(trial, low, high)
    return tf.where(tf.math.is_finite(trial), trial, mid)


def _extrapolation_trial(a_prev, f_prev, d_prev, a, f, d, noise, low_factor):
    """Next bracketing trial beyond a: cubic minimiser, kept in [low, 4] times the last step."""
    diff = _difference(f_prev, f, a_prev, a, d_prev, d, noise)
    cubic, ok = _cubic_minimizer(a_prev, d_prev, a, d, diff)
    low, high = a + low_factor * (a - a_prev), a + _GROWTH * (a - a_prev)
    ok = ok & (cubic > a)
    return tf.where(ok, tf.clip_by_value(cubic, low, high), high)


def _strong_wolfe_line_search(
    phi,
    value0,
    derivative0,
    extras0,
    initial_step,
    *,
    c1: float = 1e-4,
    c2: float = 0.1,
    max_iterations: int = 25,
    max_step: float = _MAX_STEP,
    step_tolerance: float = 1e-12,
    value_noise: float = 0.0,
    refine_tolerance: float | None = None,
) -> _LineSearchResult:
    """Find alpha > 0 satisfying the strong Wolfe conditions for phi.

    phi(alpha) returns (phi(alpha), phi'(alpha), extras); extras is any tensor structure (the
    gradient, for CG) shaped like `extras0`, its value at alpha = 0. The conditions are

        phi(alpha) <= phi(0) + c1 alpha phi'(0)   and   |phi'(alpha)| <= c2 |phi'(0)|,

    with phi'(0) < 0. Nocedal & Wright's Algorithm 3.5 (bracketing) and 3.6 (zoom) as one
    `tf.while_loop`: `lo` is always the lowest point found that satisfies sufficient decrease
    (starting at alpha = 0) and `hi` the other end of the bracket once there is one. A trial
    that fails sufficient decrease or does not beat lo becomes hi; a strong Wolfe trial is
    accepted; otherwise it becomes lo, and the old lo becomes hi when phi' at the trial points
    back towards it (in bracketing: phi' >= 0). Bracketing extrapolates until a bracket exists.

    Differences of phi within `value_noise` (its rounding error) are replaced by their
    trapezoid estimates from phi' (see `_difference`).

    With `refine_tolerance` set, an accepted step that the cubic through it and the previous
    lo places more than refine_tolerance * alpha from that cubic's minimiser gets one more
    trial at the minimiser, kept if it satisfies the strong Wolfe conditions and is lower.
    The cubic is exact on quadratics, so this makes each step exact there (as Hager & Zhang's
    QuadStep does), which conjugate gradient needs to keep its directions conjugate.

    Stops after `max_iterations` evaluations, when the bracket is narrower than
    `step_tolerance` relative to the step, or at `max_step`; it then returns lo (alpha = 0 if
    nothing lowered phi) with found = False.
    """
    f0 = _to(value0, _F64)
    dphi0 = _to(derivative0, _F64)
    alpha0 = _to(initial_step, _F64)
    zero = tf.constant(0.0, _F64)
    nan = tf.constant(math.nan, _F64)
    noise = _to(value_noise, _F64)

    def cond(i, done, *_):
        return tf.logical_and(tf.logical_not(done), i < max_iterations)

    def body(i, done, found, bracketing, refining, trial, lo, x_lo, hi, widths):
        a_lo, f_lo, d_lo = lo
        a_hi, f_hi, d_hi = hi
        # bracketing and refining trials were chosen by the previous iteration.
        zoom = _zoom_trial(a_lo, f_lo, d_lo, a_hi, f_hi, d_hi, noise, _ZOOM_MARGIN)
        zooming = ~(bracketing | refining)
        width = tf.abs(a_hi - a_lo)
        # Bisect when the last two zoom trials shrank the bracket by less than _SHRINK (as
        # Moré & Thuente 1994): interpolants that keep landing next to lo creep otherwise.
        zoom = tf.where(width > _SHRINK * widths[1], 0.5 * (a_lo + a_hi), zoom)
        widths = tf.where(zooming, tf.stack([width, widths[0]]), widths)
        a = tf.where(zooming, zoom, trial)
        f, d, x = phi(a)
        f, d = tf.cast(f, _F64), tf.cast(d, _F64)
        # Sufficient decrease, and lower than lo; written so that NaN counts as failure.
        drop = _difference(f, f0, a, zero, d, dphi0, noise)
        drop_lo = _difference(f, f_lo, a, a_lo, d, d_lo, noise)
        decrease = (drop <= c1 * a * dphi0) & (drop_lo < 0.0)
        curvature = tf.abs(d) <= -c2 * dphi0
        accept = decrease & curvature
        points_back = tf.where(bracketing, d >= 0.0, d * (a_hi - a_lo) >= 0.0)
        flip = decrease & ~curvature & points_back
        keep_bracketing = bracketing & decrease & ~curvature & ~flip

        if refine_tolerance is None:
            refine = tf.constant(False)
            refined_step = nan
        else:
            refined_step, ok = _cubic_minimizer(
                a_lo, d_lo, a, d, _difference(f_lo, f, a_lo, a, d_lo, d, noise)
            )
            far = tf.abs(refined_step - a) > refine_tolerance * a
            refine = ~refining & accept & ok & (refined_step > 0.0) & far

        # After a refining trial, lo moves only to a strong Wolfe point.
        move_lo = tf.where(refining, accept, decrease)
        new_lo = tuple(tf.where(move_lo, new, old) for new, old in zip((a, f, d), lo, strict=True))
        new_x_lo = tf.nest.map_structure(lambda new, old: tf.where(move_lo, new, old), x, x_lo)
        new_hi = tuple(
            tf.where(~decrease, new, tf.where(flip, old_lo, old_hi))
            for new, old_lo, old_hi in zip((a, f, d), lo, hi, strict=True)
        )
        extrapolated = tf.minimum(
            _extrapolation_trial(a_lo, f_lo, d_lo, a, f, d, noise, _EXTRAPOLATION_LOW), max_step
        )
        at_max = keep_bracketing & (a >= max_step)
        narrow = ~keep_bracketing & (
            tf.abs(new_hi[0] - new_lo[0]) <= step_tolerance * tf.maximum(new_lo[0], new_hi[0])
        )
        return (
            i + 1,
            refining | (accept & ~refine) | at_max | narrow,
            refining | accept,
            keep_bracketing & ~refining,
            refine,
            tf.where(refine, refined_step, extrapolated),
            new_lo,
            new_x_lo,
            new_hi,
            widths,
        )

    init = (
        tf.constant(0, tf.int32),
        tf.constant(False),
        tf.constant(False),
        tf.constant(True),
        tf.constant(False),
        tf.minimum(alpha0, max_step),
        (zero, f0, dphi0),
        extras0,
        (nan, nan, nan),
        tf.constant([math.inf, math.inf], _F64),  # bracket widths before the last zoom trials
    )
    i, _, found, _, _, _, lo, x_lo, *_ = tf.while_loop(cond, body, init, parallel_iterations=1)
    return _LineSearchResult(lo[0], lo[1], lo[2], x_lo, i, found)


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
            return v.assign_sub(_to(lr, t) * gi), []
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
