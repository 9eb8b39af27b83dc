"""Nesterov's accelerated gradient in the momentum form of Sutskever et al. (2013)."""

import keras
import tensorflow as tf

from tfgen import _checks as checks
from tfgen import _keras_compat
from tfgen.optimizers import _common, _flat, _fused, rules

#: The momentum of Sutskever et al. (2013) and of Keras' SGD examples.
DEFAULT_MOMENTUM = 0.9


@keras.saving.register_keras_serializable(package="tfgen")
@_common.fill_docstring
class Nesterov(_common.StepOptimizer):
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

    The rule is `tfgen.optimizers.rules.nesterov`, which `tfgen.solvers.minimize` runs too. With
    the TensorFlow backend it runs as TensorFlow's fused kernel (`ResourceApplyMomentum`, the
    same operations in the same order): once per large variable, and once per step over all
    small variables of a dtype, whose velocities are one flat buffer (`tfgen.optimizers._flat`;
    the same numbers to the last bit, saved as one slot per variable). The step's scalars are
    cast once per step.

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

    def __init__(
        self, learning_rate=0.01, momentum=DEFAULT_MOMENTUM, maximize=False, name=None, **kwargs
    ):
        super().__init__(learning_rate=learning_rate, maximize=maximize, name=name, **kwargs)
        self.momentum = checks.number(momentum, "momentum", 0, 1, high_open=True, kind="a float")

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        self.build_slots(variables, ("velocity",), "ResourceApplyMomentum")

    def update_step(self, gradient, variable, learning_rate):
        gradient = _common.prepare_gradient(gradient, variable, self.maximize)
        index = _keras_compat.variable_index(self, variable)
        dtype = variable.dtype
        scalars = self.per_step.get(
            dtype,
            lambda: (rules.to_dtype(learning_rate, dtype), rules.to_dtype(self.momentum, dtype)),
        )
        if self._update_through_group(index, gradient, variable, scalars):
            return
        velocity = self._slots.slot("velocity", index)
        if not _fused.USE_FUSED_KERNELS:
            step, new_velocity = rules.nesterov(gradient, velocity, *scalars)
            self.assign(velocity, new_velocity)
            self.assign_sub(variable, step)
            return
        self._fused_update(variable, velocity, gradient, scalars)

    def _update_group(self, group, gradients, variables, scalars):
        gradient = _flat.flat_gradient(gradients)
        _flat.add_flat_step(
            group,
            variables,
            lambda scratch: self._fused_update(scratch, group.slots["velocity"], gradient, scalars),
        )

    def _update_in_group(self, group, position, gradient, variable, scalars):
        velocity = _flat.read_slice(group, "velocity", position)
        step, new_velocity = rules.nesterov(gradient, velocity, *scalars)
        _flat.write_slice(group, "velocity", position, new_velocity)
        self.assign_sub(variable, step)

    @staticmethod
    def _fused_update(variable, velocity, gradient, scalars):
        learning_rate, momentum = scalars
        tf.raw_ops.ResourceApplyMomentum(
            var=_fused.resource_handle(variable),
            accum=_fused.resource_handle(velocity),
            lr=learning_rate,
            grad=gradient,
            momentum=momentum,
            use_nesterov=True,
        )

    def get_config(self):
        config = super().get_config()
        config["momentum"] = self.momentum
        return config
