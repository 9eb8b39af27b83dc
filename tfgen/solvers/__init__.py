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
from collections.abc import Callable
from typing import Any, NamedTuple

import keras
import tensorflow as tf

from tfgen import _checks as checks
from tfgen.optimizers import CONJUGATE_GRADIENT_METHODS, Adam, Nesterov
from tfgen.solvers._common import _INT32_MAX
from tfgen.solvers._methods import _conjugate_gradient, _first_order
from tfgen.solvers.line_search import _strong_wolfe_line_search  # noqa: F401  (importable here)

__all__ = ["CG_METHODS", "METHODS", "MinimizeResult", "minimize"]

METHODS = ("conjugate_gradient", "nesterov", "adam", "gradient_descent")
# The conjugate-gradient betas are defined once, in tfgen.optimizers.rules; defaults are stated
# explicitly (cg_method="polak_ribiere"), never taken from the order of this tuple.
CG_METHODS = CONJUGATE_GRADIENT_METHODS


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
    checks.integer(max_iterations, "max_iterations", 1, _INT32_MAX)
    checks.number(tolerance, "tolerance", minimum=0, finite=False)
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
        return checks.number(opts[name], name, low, high, low_open, high_open)

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
        opts["max_line_search_iterations"] = checks.integer(
            opts["max_line_search_iterations"], "max_line_search_iterations", minimum=1
        )
        opts["refine_step"] = checks.boolean(opts["refine_step"], "refine_step")
    return opts
