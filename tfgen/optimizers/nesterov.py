"""Nesterov's accelerated gradient in the momentum form of Sutskever et al. (2013)."""

import keras
import tensorflow as tf

from tfgen.optimizers import _common


@keras.saving.register_keras_serializable(package="tfgen")
@_common.fill_docstring
class Nesterov(keras.optimizers.Optimizer):
    """Nesterov's accelerated gradient (NAG), momentum form.

    Sutskever et al. (2013) rewrite Nesterov's look-ahead gradient so that only the gradient at
    the current weights is needed. With velocity `v` (zero at the start) and gradient `g`:

    ```
    v = momentum * v + g
    w = w - learning_rate * (g + momentum * v)
    ```

    This is PyTorch's `SGD(nesterov=True)` (dampening 0). Keras' `SGD(nesterov=True)` folds the
    learning rate into its velocity (`v = momentum * v - learning_rate * g`), which gives the same
    trajectory under a constant learning rate but not under a schedule: there tfgen follows
    PyTorch, so a new rate acts on the whole step at once instead of on new gradients only.

    The step runs as one fused kernel per variable (`ResourceApplyMomentum`).

    References:
        Sutskever, Martens, Dahl & Hinton (2013), "On the importance of initialization and
        momentum in deep learning", ICML. https://proceedings.mlr.press/v28/sutskever13.html
        Nesterov (1983), "A method for solving the convex programming problem with convergence
        rate O(1/k^2)".

    Args:
        learning_rate: A float, a `keras.optimizers.schedules.LearningRateSchedule` or a
            callable returning the rate. Defaults to `0.01`.
        momentum: Float in [0, 1). Defaults to `0.9`.
        {{shared_args}}
    """

    def __init__(self, learning_rate=0.01, momentum=0.9, maximize=False, name=None, **kwargs):
        super().__init__(
            learning_rate=_common.check_learning_rate(learning_rate), name=name, **kwargs
        )
        self.momentum = _common.check_unit_interval("momentum", momentum)
        self.maximize = bool(maximize)

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        self.velocities = self.add_optimizer_variables(variables, "velocity")

    def update_step(self, gradient, variable, learning_rate):
        gradient = _common.prepare_gradient(gradient, variable, self.maximize)
        velocity = self.velocities[self._get_variable_index(variable)]
        tf.raw_ops.ResourceApplyMomentum(
            var=_common.resource_handle(variable),
            accum=_common.resource_handle(velocity),
            lr=tf.cast(learning_rate, variable.dtype),
            grad=gradient,
            momentum=tf.cast(self.momentum, variable.dtype),
            use_nesterov=True,
        )

    def get_config(self):
        config = super().get_config()
        config.update({"momentum": self.momentum, "maximize": self.maximize})
        return config
