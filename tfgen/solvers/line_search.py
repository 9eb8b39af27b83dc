"""Strong Wolfe line search (Nocedal & Wright, "Numerical Optimization", 2nd ed. 2006,
Algorithms 3.5 and 3.6), with safeguarded cubic and quadratic interpolation (More & Thuente 1994)
and function differences replaced by derivative estimates within rounding noise (Hager & Zhang
2005). `tfgen.solvers.minimize`'s conjugate gradient takes its steps from it.

Along a direction ``d`` from ``x``, with ``phi(a) = f(x + a d)``, it finds a step ``a > 0`` with

    phi(a) <= phi(0) + c1 a phi'(0)      (sufficient decrease)
    |phi'(a)| <= c2 |phi'(0)|            (curvature)

inside one compiled TensorFlow loop (`tf.while_loop`).
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import tensorflow as tf

from tfgen.optimizers.rules import to_dtype
from tfgen.solvers._common import _F64

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
    f0 = to_dtype(value0, _F64)
    dphi0 = to_dtype(derivative0, _F64)
    alpha0 = to_dtype(initial_step, _F64)
    zero = tf.constant(0.0, _F64)
    nan = tf.constant(math.nan, _F64)
    noise = to_dtype(value_noise, _F64)

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
