"""The update rules, each written once as a pure function of (gradient, state, hyper-parameters).

`tfgen.optimizers` (the Keras optimizers) and `tfgen.solvers.minimize` both call these, so a
method computes the same numbers whichever runs it. Each function returns the step `s` to
subtract from the weights (`w = w - s`) and the new state; nothing is assigned here. They are
written with `keras.ops`, in the order of operations of TensorFlow's fused kernels
(`ResourceApplyMomentum`, `ResourceApplyAdam`), which the optimizers run instead when the
backend is TensorFlow.
"""

from typing import NamedTuple

from keras import ops

CONJUGATE_GRADIENT_METHODS = ("fletcher_reeves", "polak_ribiere", "hestenes_stiefel", "dai_yuan")


def to_dtype(value, dtype):
    """`value` as a tensor of `dtype`: tensors are cast, Python numbers converted exactly (a cast
    would round them through float32 first)."""
    if isinstance(value, int | float):
        return ops.convert_to_tensor(value, dtype)
    return ops.cast(value, dtype)


def orient(gradient, maximize):
    """The gradient (or loss) to descend along: `-gradient` for gradient ascent (`maximize=True`).

    The one place that knows how `maximize` turns a gradient: tfgen's optimizers, the GAN step
    and `tfgen.stylize` all call it (with `is_maximizing`). Weight decay, applied by Keras before
    the step, still shrinks the weights.
    """
    return ops.negative(gradient) if maximize else gradient


def is_maximizing(optimizer):
    """Whether `optimizer` (or the one a LossScaleOptimizer wraps) has `maximize=True`."""
    inner = getattr(optimizer, "inner_optimizer", optimizer)
    return bool(getattr(inner, "maximize", False))


def nesterov(gradient, velocity, learning_rate, momentum):
    """Nesterov's accelerated gradient, momentum form (Sutskever et al. 2013; PyTorch's form).

    ```
    v = momentum * v + g
    s = learning_rate * g + learning_rate * momentum * v
    ```

    Returns `(s, v)`.
    """
    velocity = ops.add(ops.multiply(velocity, momentum), gradient)
    step = ops.add(
        ops.multiply(gradient, learning_rate),
        ops.multiply(ops.multiply(velocity, momentum), learning_rate),
    )
    return step, velocity


class AdamScalars(NamedTuple):
    """What one Adam step shares across all variables of a dtype, computed once, in that dtype."""

    learning_rate: object
    beta_1: object
    beta_2: object
    epsilon: object
    beta_1_power: object  # beta_1**t
    beta_2_power: object
    alpha: object  # learning_rate * sqrt(1 - beta_2**t) / (1 - beta_1**t)


def adam_scalars(learning_rate, beta_1, beta_2, epsilon, step, dtype):
    """Casts Adam's hyper-parameters to `dtype`, raises the betas to `step` (from 1) and
    combines them into the bias-corrected step size `alpha`, as the fused kernel does."""
    learning_rate = to_dtype(learning_rate, dtype)
    beta_1, beta_2 = to_dtype(beta_1, dtype), to_dtype(beta_2, dtype)
    step = ops.cast(step, dtype)
    beta_1_power, beta_2_power = ops.power(beta_1, step), ops.power(beta_2, step)
    one = ops.ones((), dtype)
    alpha = ops.divide(
        ops.multiply(learning_rate, ops.sqrt(ops.subtract(one, beta_2_power))),
        ops.subtract(one, beta_1_power),
    )
    return AdamScalars(
        learning_rate, beta_1, beta_2, to_dtype(epsilon, dtype), beta_1_power, beta_2_power, alpha
    )


def adam(gradient, m, v, v_max, scalars):
    """Adam (Kingma & Ba 2015) in its "epsilon hat" form, with AMSGrad (Reddi et al. 2018).

    At step `t`, with `scalars` from `adam_scalars`:

    ```
    m = m + (g - m) * (1 - beta_1)             # = beta_1 * m + (1 - beta_1) * g
    v = v + (g**2 - v) * (1 - beta_2)
    v_max = max(v_max, v)                      # AMSGrad (v_max not None); replaces v below
    alpha = learning_rate * sqrt(1 - beta_2**t) / (1 - beta_1**t)
    s = m * alpha / (sqrt(v) + epsilon)
    ```

    `epsilon` is added to `sqrt(v)` before bias correction (the paper's Section 2 remark, as
    Keras and TensorFlow place it), so it acts like a smaller one in PyTorch's form.
    Returns `(s, m, v, v_max)`; `v_max` stays `None` without AMSGrad.
    """
    one = ops.ones((), scalars.beta_1.dtype)
    m = ops.add(m, ops.multiply(ops.subtract(gradient, m), ops.subtract(one, scalars.beta_1)))
    v = ops.add(
        v, ops.multiply(ops.subtract(ops.square(gradient), v), ops.subtract(one, scalars.beta_2))
    )
    if v_max is not None:
        v_max = ops.maximum(v_max, v)
    denominator = ops.add(ops.sqrt(v if v_max is None else v_max), scalars.epsilon)
    return ops.divide(ops.multiply(m, scalars.alpha), denominator), m, v, v_max


def conjugate_gradient_beta(method, gradient_dots):
    """Beta of a nonlinear conjugate-gradient rule from global inner products.

    `gradient_dots` maps names to sums over all variables, with `g` the current gradient,
    `g_prev` the previous one, `d_prev` the previous direction and `y = g - g_prev`:
    `g.g`, `g_prev.g_prev`, `g.y` and `d_prev.y`.

    ```
    fletcher_reeves:   beta = g.g / g_prev.g_prev                      (Fletcher & Reeves 1964)
    polak_ribiere:     beta = max(0, g.y / g_prev.g_prev)  (PR+,  Polak & Ribiere 1969, Powell 1986)
    hestenes_stiefel:  beta = g.y / d_prev.y                           (Hestenes & Stiefel 1952)
    dai_yuan:          beta = g.g / d_prev.y                           (Dai & Yuan 1999)
    ```

    A zero denominator or a non-finite beta gives 0: no usable conjugacy information, so the
    next direction restarts with steepest descent.
    """
    numerator, denominator = {
        "fletcher_reeves": ("g.g", "g_prev.g_prev"),
        "polak_ribiere": ("g.y", "g_prev.g_prev"),
        "hestenes_stiefel": ("g.y", "d_prev.y"),
        "dai_yuan": ("g.g", "d_prev.y"),
    }.get(method, (None, None))
    if numerator is None:
        raise ValueError(f"method must be one of {CONJUGATE_GRADIENT_METHODS}, got {method!r}")
    beta = ops.divide_no_nan(gradient_dots[numerator], gradient_dots[denominator])
    if method == "polak_ribiere":
        beta = ops.maximum(beta, ops.zeros_like(beta))
    return ops.where(ops.isfinite(beta), beta, ops.zeros_like(beta))


def conjugate_gradient_direction(gradient, previous_direction, beta):
    """The next search direction `d = -g + beta * d_prev` (the step is `-learning_rate * d`)."""
    return ops.add(ops.negative(gradient), ops.multiply(beta, previous_direction))
