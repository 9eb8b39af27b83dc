"""Activation layers of tfgen's builders.

- `LeakyReLU`: Keras' `LeakyReLU` whose gradient reads the layer's output instead of its input.
  For 0 < slope the two have the same sign, so the gradient (1 where positive, `slope`
  elsewhere) is the same; but grappler's remapper on oneDNN CPUs fuses a convolution, its
  `BiasAdd` and a following `LeakyRelu` into one node, after which the usual gradient op,
  which reads the `BiasAdd`, has lost its input: the optimisation then fails for the whole graph
  and TensorFlow logs "E0000 ... remapper failed: ... fanout '.../LeakyReluGrad' exist for
  missing node '.../BiasAdd'". Reading the output keeps the fused node's fanouts intact.
  benchmarks/cpu_remapper.py times it (BENCHMARKS.md, "Grappler's remapper on the CPU").
"""

import keras
import tensorflow as tf

__all__ = ["LeakyReLU"]


@keras.saving.register_keras_serializable(package="tfgen")
class LeakyReLU(keras.layers.LeakyReLU):
    """`keras.layers.LeakyReLU` (y = x for x > 0, slope * x else) with a gradient of its output.

    Maas et al. 2013, "Rectifier Nonlinearities Improve Neural Network Acoustic Models". Needs
    0 < negative_slope (a slope of 0 loses the sign of x in y; use `keras.layers.ReLU`).
    """

    def __init__(self, negative_slope=0.3, **kwargs):
        if not 0 < negative_slope:
            raise ValueError(
                f"negative_slope must be > 0 (0 is keras.layers.ReLU), got {negative_slope!r}"
            )
        super().__init__(negative_slope=negative_slope, **kwargs)

    def call(self, inputs):
        slope = float(self.negative_slope)

        @tf.custom_gradient
        def leaky_relu(x):
            y = tf.nn.leaky_relu(x, alpha=slope)

            def gradient(upstream):
                # sign(y) = sign(x): TensorFlow's own gradient op, fed the output.
                return tf.raw_ops.LeakyReluGrad(gradients=upstream, features=y, alpha=slope)

            return y, gradient

        return leaky_relu(inputs)
