"""Nonlinear conjugate gradient with a fixed step, as a Keras optimizer."""

import keras
from keras import ops

from tfgen import _checks as checks
from tfgen import _keras_compat
from tfgen.optimizers import _common, rules

METHODS = rules.CONJUGATE_GRADIENT_METHODS
conjugate_gradient_beta = rules.conjugate_gradient_beta


@keras.saving.register_keras_serializable(package="tfgen")
@_common.fill_docstring
class ConjugateGradient(_keras_compat.WholeStepOptimizer):
    """Nonlinear conjugate gradient with a fixed step (no line search).

    With gradient `g_k` over all the variables being updated and one `beta_k` per step from
    inner products taken over ALL of them together:

    ```
    d_0 = -g_0
    d_k = -g_k + beta_k * d_(k-1)
    w   = w + learning_rate * d_k
    ```

    `beta_k` follows `method` (see `tfgen.optimizers.rules.conjugate_gradient_beta`, which
    `tfgen.solvers.minimize` uses too): "fletcher_reeves"
    (Fletcher & Reeves 1964), "polak_ribiere" (PR+: clipped at 0, Polak & Ribière 1969,
    Powell 1986), "hestenes_stiefel" (Hestenes & Stiefel 1952) or "dai_yuan" (Dai & Yuan 1999).
    `beta_k` is 0 (steepest descent) on the first step and every `restart_every` steps.

    Under `tf.distribute` the inner products are taken once, after the cross-replica gradient
    sum, so every replica computes the same beta as a single device would.
    For full-batch problems with a line search, see `tfgen.solvers.minimize`.

    References:
        Nocedal & Wright (2006), "Numerical Optimization", 2nd ed., Section 5.2.
        Hager & Zhang (2006), "A survey of nonlinear conjugate gradient methods",
        Pacific Journal of Optimization 2(1).

    Args:
        learning_rate: A float, a `keras.optimizers.schedules.LearningRateSchedule` or a
            callable returning the rate. Defaults to `0.01`.
        method: One of "fletcher_reeves", "polak_ribiere", "hestenes_stiefel", "dai_yuan".
            Defaults to `"polak_ribiere"`.
        restart_every: Positive int or `None`: reset beta to 0 every this many steps.
            Defaults to `None` (restart only at the first step).
        {{shared_args}}
    """

    def __init__(
        self,
        learning_rate=0.01,
        method="polak_ribiere",
        restart_every=None,
        maximize=False,
        name=None,
        **kwargs,
    ):
        kwargs = _common.check_keras_arguments(dict(kwargs, name=name))
        super().__init__(learning_rate=_common.check_learning_rate(learning_rate), **kwargs)
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {method!r}")
        self.method = method
        self.restart_every = checks.integer(
            restart_every, "restart_every", minimum=1, optional=True
        )
        self.maximize = checks.boolean(maximize, "maximize")

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        self.previous_gradients, self.directions = _common.add_slots(
            self, variables, "previous_gradient", "direction"
        )

    def prepare_step(self, grads_and_vars):
        grads_and_vars = [
            (_common.prepare_gradient(g, v, self.maximize), v) for g, v in grads_and_vars
        ]
        sums = {"g.g": 0.0, "g_prev.g_prev": 0.0, "g.y": 0.0, "d_prev.y": 0.0}
        for gradient, variable in grads_and_vars:
            index = _keras_compat.variable_index(self, variable)
            g = ops.cast(gradient, "float32")
            g_prev = ops.cast(self.previous_gradients[index], "float32")
            d_prev = ops.cast(self.directions[index], "float32")
            y = g - g_prev
            sums["g.g"] += ops.sum(g * g)
            sums["g_prev.g_prev"] += ops.sum(g_prev * g_prev)
            sums["g.y"] += ops.sum(g * y)
            sums["d_prev.y"] += ops.sum(d_prev * y)
        beta = rules.conjugate_gradient_beta(self.method, sums)
        restart = ops.equal(self.iterations, 0)
        if self.restart_every:
            restart = restart | ops.equal(self.iterations % self.restart_every, 0)
        return grads_and_vars, ops.where(restart, 0.0, beta)

    def update_step_with(self, gradient, variable, learning_rate, beta):
        index = _keras_compat.variable_index(self, variable)
        direction = self.directions[index]
        new_direction = rules.conjugate_gradient_direction(
            gradient, direction, ops.cast(beta, variable.dtype)
        )
        self.assign_add(variable, ops.cast(learning_rate, variable.dtype) * new_direction)
        self.assign(direction, new_direction)
        self.assign(self.previous_gradients[index], gradient)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "method": self.method,
                "restart_every": self.restart_every,
                "maximize": self.maximize,
            }
        )
        return config
