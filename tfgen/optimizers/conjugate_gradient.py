"""Nonlinear conjugate gradient with a fixed step, as a Keras optimizer."""

import keras
import tensorflow as tf
from keras.src import backend

from tfgen.optimizers import _common

METHODS = ("fletcher_reeves", "polak_ribiere", "hestenes_stiefel", "dai_yuan")


def conjugate_gradient_beta(method, gradient_dots):
    """Beta of a nonlinear conjugate-gradient rule from global inner products.

    `gradient_dots` maps names to sums over all variables, with `g` the current gradient,
    `g_prev` the previous one, `d_prev` the previous direction and `y = g - g_prev`:
    `g.g`, `g_prev.g_prev`, `g.y` and `d_prev.y`. A zero denominator gives beta 0 (a restart).

    ```
    fletcher_reeves:   beta = g.g / g_prev.g_prev                      (Fletcher & Reeves 1964)
    polak_ribiere:     beta = max(0, g.y / g_prev.g_prev)  (PR+,  Polak & Ribiere 1969, Powell 1986)
    hestenes_stiefel:  beta = g.y / d_prev.y                           (Hestenes & Stiefel 1952)
    dai_yuan:          beta = g.g / d_prev.y                           (Dai & Yuan 1999)
    ```
    """
    if method == "fletcher_reeves":
        return tf.math.divide_no_nan(gradient_dots["g.g"], gradient_dots["g_prev.g_prev"])
    if method == "polak_ribiere":
        beta = tf.math.divide_no_nan(gradient_dots["g.y"], gradient_dots["g_prev.g_prev"])
        return tf.maximum(beta, 0.0)
    if method == "hestenes_stiefel":
        return tf.math.divide_no_nan(gradient_dots["g.y"], gradient_dots["d_prev.y"])
    if method == "dai_yuan":
        return tf.math.divide_no_nan(gradient_dots["g.g"], gradient_dots["d_prev.y"])
    raise ValueError(f"method must be one of {METHODS}, got {method!r}")


@keras.saving.register_keras_serializable(package="tfgen")
@_common.fill_docstring
class ConjugateGradient(keras.optimizers.Optimizer):
    """Nonlinear conjugate gradient with a fixed step (no line search).

    With gradient `g_k` over all the variables being updated and one `beta_k` per step from
    inner products taken over ALL of them together:

    ```
    d_0 = -g_0
    d_k = -g_k + beta_k * d_(k-1)
    w   = w + learning_rate * d_k
    ```

    `beta_k` follows `method` (see `conjugate_gradient_beta`): "fletcher_reeves"
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
        super().__init__(
            learning_rate=_common.check_learning_rate(learning_rate), name=name, **kwargs
        )
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {method!r}")
        if restart_every is not None and (
            isinstance(restart_every, bool)
            or not isinstance(restart_every, int)
            or restart_every < 1
        ):
            raise ValueError(f"restart_every must be None or an int >= 1, got {restart_every!r}")
        self.method = method
        self.restart_every = restart_every
        self.maximize = bool(maximize)

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        self.previous_gradients, self.directions = self.add_optimizer_variables(
            variables, ["previous_gradient", "direction"]
        )

    def _backend_update_step(self, grads, trainable_variables, learning_rate):
        # Sum the gradients across replicas first, then take the global inner products once in
        # replica context (every replica gets the same beta), then update each variable.
        variables = [v.value if isinstance(v, backend.Variable) else v for v in trainable_variables]
        grads_and_vars = self._all_reduce_sum_gradients(list(zip(grads, variables)))
        grads_and_vars = [
            (_common.prepare_gradient(g, v, self.maximize), v) for g, v in grads_and_vars
        ]
        beta = self._beta(grads_and_vars)
        tf.__internal__.distribute.interim.maybe_merge_call(
            self._distributed_update,
            self._distribution_strategy,
            grads_and_vars,
            beta,
            learning_rate,
        )

    def _beta(self, grads_and_vars):
        sums = {"g.g": 0.0, "g_prev.g_prev": 0.0, "g.y": 0.0, "d_prev.y": 0.0}
        for gradient, variable in grads_and_vars:
            index = self._get_variable_index(variable)
            g = tf.cast(gradient, tf.float32)
            g_prev = tf.cast(self.previous_gradients[index], tf.float32)
            d_prev = tf.cast(self.directions[index], tf.float32)
            y = g - g_prev
            sums["g.g"] += tf.reduce_sum(g * g)
            sums["g_prev.g_prev"] += tf.reduce_sum(g_prev * g_prev)
            sums["g.y"] += tf.reduce_sum(g * y)
            sums["d_prev.y"] += tf.reduce_sum(d_prev * y)
        beta = conjugate_gradient_beta(self.method, sums)
        restart = tf.equal(self.iterations, 0)
        if self.restart_every:
            restart = restart | tf.equal(self.iterations % self.restart_every, 0)
        return tf.where(restart | ~tf.math.is_finite(beta), 0.0, beta)

    def _distributed_update(self, distribution, grads_and_vars, beta, learning_rate):
        def update(variable, gradient, beta, learning_rate):
            index = self._get_variable_index(variable)
            direction = self.directions[index]
            new_direction = -gradient + tf.cast(beta, variable.dtype) * direction
            variable.assign_add(tf.cast(learning_rate, variable.dtype) * new_direction)
            direction.assign(new_direction)
            self.previous_gradients[index].assign(gradient)

        for gradient, variable in grads_and_vars:
            distribution.extended.update(
                variable, update, args=(gradient, beta, learning_rate), group=False
            )

    def update_step(self, gradient, variable, learning_rate):
        raise NotImplementedError(
            "ConjugateGradient updates all variables together in _backend_update_step."
        )

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
