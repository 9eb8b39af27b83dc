"""Adam (Kingma & Ba 2015) with AMSGrad (Reddi et al. 2018) and decoupled weight decay."""

import keras
import tensorflow as tf

from tfgen import _checks as checks
from tfgen import _keras_compat
from tfgen.optimizers import _common, _flat, _fused, rules

#: The learning rate of Kingma & Ba (2015), Keras' default too.
DEFAULT_LEARNING_RATE = 0.001


@keras.saving.register_keras_serializable(package="tfgen")
@_common.fill_docstring
class Adam(_common.StepOptimizer):
    """Adam: adaptive moment estimation, with bias correction.

    At step `t` (from 1) with gradient `g`, moments `m`, `v` (zero at the start):

    ```
    m = beta_1 * m + (1 - beta_1) * g
    v = beta_2 * v + (1 - beta_2) * g**2
    v_max = max(v_max, v)                      # AMSGrad only; then v_max replaces v below
    alpha = learning_rate * sqrt(1 - beta_2**t) / (1 - beta_1**t)
    w = w - alpha * m / (sqrt(v) + epsilon)
    ```

    This is the form of the paper's Section 2 remark ("epsilon hat"), as Keras and TensorFlow
    compute it: `epsilon` is added to `sqrt(v)` before bias correction, so the same `epsilon`
    acts like a smaller one in PyTorch's form, which adds it after.

    `weight_decay` is decoupled (AdamW): the Keras base class applies
    `w = w - learning_rate * weight_decay * w` before the step.

    The rule is `tfgen.optimizers.rules.adam`, which `tfgen.solvers.minimize` runs too. With the
    TensorFlow backend it runs as TensorFlow's fused kernel (`ResourceApplyAdam`, the same
    operations in the same order): once per large variable, and once per step over all small
    variables of a dtype, whose slots are one flat buffer (`tfgen.optimizers._flat`; the same
    numbers to the last bit, saved as one slot per variable). The step's scalars are computed
    once for all variables. AMSGrad runs the plain rule per variable, since its fused kernel
    does not compile under XLA.

    References:
        Kingma & Ba (2015), "Adam: A Method for Stochastic Optimization", ICLR.
        https://arxiv.org/abs/1412.6980
        Reddi, Kale & Kumar (2018), "On the Convergence of Adam and Beyond", ICLR.
        https://openreview.net/forum?id=ryQu7f-RZ
        Loshchilov & Hutter (2019), "Decoupled Weight Decay Regularization", ICLR.
        https://arxiv.org/abs/1711.05101

    Args:
        learning_rate: A float, a `keras.optimizers.schedules.LearningRateSchedule` or a
            callable returning the rate. Defaults to `0.001`.
        beta_1: Float in [0, 1): decay of the first moment. Defaults to `0.9`.
        beta_2: Float in [0, 1): decay of the second moment. Defaults to `0.999`.
        epsilon: Float > 0 added to the denominator. Defaults to `1e-7`.
        amsgrad: Boolean, whether to use AMSGrad's running maximum of `v`. Defaults to `False`.
        {{shared_args}}
    """

    def __init__(
        self,
        learning_rate=DEFAULT_LEARNING_RATE,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-7,
        amsgrad=False,
        maximize=False,
        name=None,
        **kwargs,
    ):
        super().__init__(learning_rate=learning_rate, maximize=maximize, name=name, **kwargs)
        self.beta_1 = checks.number(beta_1, "beta_1", 0, 1, high_open=True, kind="a float")
        self.beta_2 = checks.number(beta_2, "beta_2", 0, 1, high_open=True, kind="a float")
        self.epsilon = checks.number(epsilon, "epsilon", 0, low_open=True, kind="a float")
        self.amsgrad = checks.boolean(amsgrad, "amsgrad")

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        # Saved by position: keep this order. AMSGrad has no fused kernel, so no flat groups.
        kernel = None if self.amsgrad else "ResourceApplyAdam"
        self.build_slots(variables, ("momentum", "velocity"), kernel)
        if self.amsgrad:
            (self.velocity_hats,) = _common.add_slots(self, variables, "velocity_hat")

    def update_step(self, gradient, variable, learning_rate):
        gradient = _common.prepare_gradient(gradient, variable, self.maximize)
        index = _keras_compat.variable_index(self, variable)
        scalars = self.per_step.get(
            variable.dtype,
            lambda: rules.adam_scalars(
                learning_rate,
                self.beta_1,
                self.beta_2,
                self.epsilon,
                self.iterations + 1,
                variable.dtype,
            ),
        )
        if self._update_through_group(index, gradient, variable, scalars):
            return
        m, v = self._slots.slot("momentum", index), self._slots.slot("velocity", index)
        if self.amsgrad or not _fused.USE_FUSED_KERNELS:
            # No fused AMSGrad kernel compiles under XLA, so this variant runs the plain rule.
            v_max = self.velocity_hats[index] if self.amsgrad else None
            step, m_new, v_new, v_max_new = rules.adam(gradient, m, v, v_max, scalars)
            self.assign(m, m_new)
            self.assign(v, v_new)
            if self.amsgrad:
                self.assign(v_max, v_max_new)
            self.assign_sub(variable, step)
            return
        self._fused_update(variable, m, v, gradient, scalars)

    @staticmethod
    def _fused_update(variable, m, v, gradient, scalars):
        tf.raw_ops.ResourceApplyAdam(
            var=_fused.resource_handle(variable),
            m=_fused.resource_handle(m),
            v=_fused.resource_handle(v),
            beta1_power=scalars.beta_1_power,
            beta2_power=scalars.beta_2_power,
            lr=scalars.learning_rate,
            beta1=scalars.beta_1,
            beta2=scalars.beta_2,
            epsilon=scalars.epsilon,
            grad=gradient,
        )

    def _update_group(self, group, gradients, variables, scalars):
        gradient = _flat.flat_gradient(gradients)
        slots = group.slots
        _flat.add_flat_step(
            group,
            variables,
            lambda scratch: self._fused_update(
                scratch, slots["momentum"], slots["velocity"], gradient, scalars
            ),
        )

    def _update_in_group(self, group, position, gradient, variable, scalars):
        m, v = (
            _flat.read_slice(group, "momentum", position),
            _flat.read_slice(group, "velocity", position),
        )
        step, m_new, v_new, _ = rules.adam(gradient, m, v, None, scalars)
        _flat.write_slice(group, "momentum", position, m_new)
        _flat.write_slice(group, "velocity", position, v_new)
        self.assign_sub(variable, step)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "beta_1": self.beta_1,
                "beta_2": self.beta_2,
                "epsilon": self.epsilon,
                "amsgrad": self.amsgrad,
            }
        )
        return config
