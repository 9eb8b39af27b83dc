"""Adam (Kingma & Ba 2015) with AMSGrad (Reddi et al. 2018) and decoupled weight decay."""

import keras
import tensorflow as tf

from tfgen.optimizers import _common


@keras.saving.register_keras_serializable(package="tfgen")
@_common.fill_docstring
class Adam(keras.optimizers.Optimizer):
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

    The step runs as one fused kernel per variable (`ResourceApplyAdam`); AMSGrad is written
    out in plain operations, since its fused kernel does not compile under XLA.

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
        learning_rate=0.001,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-7,
        amsgrad=False,
        maximize=False,
        name=None,
        **kwargs,
    ):
        super().__init__(
            learning_rate=_common.check_learning_rate(learning_rate), name=name, **kwargs
        )
        self.beta_1 = _common.check_unit_interval("beta_1", beta_1)
        self.beta_2 = _common.check_unit_interval("beta_2", beta_2)
        self.epsilon = _common.check_positive("epsilon", epsilon)
        self.amsgrad = bool(amsgrad)
        self.maximize = bool(maximize)

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        # Slots are saved by position: keep this order fixed.
        self.momentums, self.velocities = self.add_optimizer_variables(
            variables, ["momentum", "velocity"]
        )
        if self.amsgrad:
            self.velocity_hats = self.add_optimizer_variables(variables, "velocity_hat")

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        gradient = _common.prepare_gradient(gradient, variable, self.maximize)
        index = self._get_variable_index(variable)
        step = tf.cast(self.iterations + 1, dtype)
        beta_1, beta_2 = tf.cast(self.beta_1, dtype), tf.cast(self.beta_2, dtype)
        beta_1_power, beta_2_power = tf.pow(beta_1, step), tf.pow(beta_2, step)
        learning_rate = tf.cast(learning_rate, dtype)
        epsilon = tf.cast(self.epsilon, dtype)
        m, v = self.momentums[index], self.velocities[index]
        if self.amsgrad:
            # No fused AMSGrad kernel compiles under XLA, so this variant is written out.
            v_hat = self.velocity_hats[index]
            m.assign_add((gradient - m) * (1 - beta_1))
            v.assign_add((tf.square(gradient) - v) * (1 - beta_2))
            v_hat.assign(tf.maximum(v_hat, v))
            alpha = learning_rate * tf.sqrt(1 - beta_2_power) / (1 - beta_1_power)
            variable.assign_sub(alpha * m / (tf.sqrt(v_hat) + epsilon))
            return
        tf.raw_ops.ResourceApplyAdam(
            var=_common.resource_handle(variable),
            m=_common.resource_handle(m),
            v=_common.resource_handle(v),
            beta1_power=beta_1_power,
            beta2_power=beta_2_power,
            lr=learning_rate,
            beta1=beta_1,
            beta2=beta_2,
            epsilon=epsilon,
            grad=gradient,
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "beta_1": self.beta_1,
                "beta_2": self.beta_2,
                "epsilon": self.epsilon,
                "amsgrad": self.amsgrad,
                "maximize": self.maximize,
            }
        )
        return config
