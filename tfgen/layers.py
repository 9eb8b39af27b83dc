"""Keras layers of tfgen's builders that compute what Keras' layers compute, faster.

Which form of an operation is fastest depends on who compiles it. TensorFlow's own kernels
(oneDNN's on x86 CPUs) run a fused batch normalisation far faster than the dozen separate ops
Keras 3 builds for it, and run the convolutions of image-facing layers (1 or 3 channels) well;
XLA fuses the separate batch-norm ops better than it expands the fused one, and runs those
convolutions slowly, but a matrix product of the same arithmetic fast. So each layer here picks
its form by whether the function being traced is compiled with XLA
(`tfgen._keras_compat.in_xla_context`), and computes the same function either way:

- `BatchNormalization`: TensorFlow's fused kernel without XLA, Keras' ops under XLA.
- `Conv2D`: under XLA, a convolution with few channels on one side as one matrix product and
  k x k slices; otherwise (and for every wider layer) Keras' own convolution.

How much faster the builders' networks train in these layers than in Keras' own, with and
without XLA, is measured by benchmarks/gan_layers.py (BENCHMARKS.md, "GAN training
throughput").
"""

import keras
import tensorflow as tf

from tfgen import _keras_compat

#: The smallest epsilon TensorFlow's fused batch-norm kernel accepts.
FUSED_MIN_EPSILON = 1.001e-5


@keras.saving.register_keras_serializable(package="tfgen")
class BatchNormalization(keras.layers.BatchNormalization):
    """`keras.layers.BatchNormalization`, trained with TensorFlow's fused kernel where it can.

    Batch normalisation (Ioffe & Szegedy 2015, "Batch Normalization: Accelerating Deep Network
    Training by Reducing Internal Covariate Shift"), per channel c, over batch, height, width:

    ```
    mean_c = E[x_c],  var_c = E[(x_c - mean_c)^2]
    y_c = gamma_c (x_c - mean_c) / sqrt(var_c + epsilon) + beta_c
    moving_mean_c <- momentum moving_mean_c + (1 - momentum) mean_c   (likewise the variance)
    ```

    A training call on 4-D channels-last images outside XLA runs it as TensorFlow's
    `FusedBatchNormV3` (one kernel forward, one backward) instead of Keras 3's separate ops. The
    kernel reports the Bessel-corrected variance n/(n-1) var_c; it is scaled back, so the moving
    variance is the biased one Keras keeps. Outputs, gradients and moving statistics equal
    Keras' layer's up to float32 rounding (tests/test_layers.py, also against numpy). Every
    other case is Keras' own path: inference, masks, `synchronized` (cross-replica statistics),
    `renorm`, other ranks or axes, an epsilon below the kernel's 1.001e-5, and XLA. Takes
    Keras' arguments; a model saved with it loads with tfgen imported.
    """

    def _fused_applies(self, inputs, training, mask):
        return (
            training
            and self.trainable
            and mask is None
            and not self.synchronized
            and not self.renorm
            and len(inputs.shape) == 4
            and inputs.shape[-1] is not None
            and self.axis in (-1, 3)
            and self.epsilon >= FUSED_MIN_EPSILON
            and not _keras_compat.in_xla_context()
        )

    def call(self, inputs, training=None, mask=None):
        if not self._fused_applies(inputs, training, mask):
            return super().call(inputs, training=training, mask=mask)
        x = tf.cast(inputs, "float32")  # as Keras: statistics in float32 under any policy
        channels = x.shape[-1]
        gamma = tf.cast(self.gamma, "float32") if self.scale else tf.ones([channels])
        beta = tf.cast(self.beta, "float32") if self.center else tf.zeros([channels])
        outputs, mean, corrected = tf.compat.v1.nn.fused_batch_norm(
            x, gamma, beta, epsilon=self.epsilon, data_format="NHWC", is_training=True
        )
        # The kernel's variance is n/(n-1) times the batch's; Keras keeps the batch's own.
        count = tf.cast(tf.size(x) // channels, "float32")
        variance = corrected * (tf.maximum(count - 1.0, 0.0) / tf.maximum(count, 1.0))
        momentum = self.momentum
        self.moving_mean.assign(
            tf.cast(self.moving_mean, "float32") * momentum + mean * (1.0 - momentum)
        )
        self.moving_variance.assign(
            tf.cast(self.moving_variance, "float32") * momentum + variance * (1.0 - momentum)
        )
        return tf.cast(outputs, self.compute_dtype)


@keras.saving.register_keras_serializable(package="tfgen")
class Conv2D(keras.layers.Conv2D):
    """`keras.layers.Conv2D`, computed by a matrix product when one side has few channels.

    A 2-D convolution with a (kh, kw, c_in, c_out) kernel K, strides s and zero padding p is

    ```
    y[i, j, o] = sum over a < kh, b < kw, c of  x[s i + a - p, s j + b - p, c] K[a, b, c, o]
    ```

    With few input channels (kh kw c_in <= c_out, e.g. a discriminator's first layer on
    grey or RGB images), the kh kw shifted, strided views of x are stacked into patches
    (batch, H', W', kh kw c_in) and multiplied by K as a (kh kw c_in, c_out) matrix
    ("im2col", Chellapilla et al. 2006). With few output channels (kh kw c_out <= c_in and
    stride 1, e.g. a generator's last layer to an image), x is first multiplied by K as a
    (c_in, kh kw c_out) matrix, and y is the sum of the kh kw shifted slices of the product.
    Either way every multiply-add of the convolution is done once, as one well-shaped
    matrix product; gradients come from the same ops. Outputs and gradients equal Keras'
    layer's up to float32 summation order (tests/test_layers.py, also against numpy).

    This form runs only in functions compiled with XLA, where it was faster; TensorFlow's own
    (oneDNN) convolution was faster than it without XLA (benchmarks/gan_layers.py). Every other
    convolution (wider layers, dilation, groups, channels-first) is Keras' own.
    """

    def _taps(self, input_shape):
        """("inputs" | "outputs", ((before, after) rows, (before, after) columns), out size)."""
        height, width, channels = input_shape[1:]
        if (
            not _keras_compat.in_xla_context()
            or self.data_format != "channels_last"
            or self.groups != 1
            or tuple(self.dilation_rate) != (1, 1)
            or None in (height, width, channels)
        ):
            return None
        taps = self.kernel_size[0] * self.kernel_size[1]
        if taps * channels <= self.filters:
            kind = "inputs"
        elif taps * self.filters <= channels and tuple(self.strides) == (1, 1):
            kind = "outputs"
        else:
            return None
        pads, sizes = [], []
        for size, kernel, stride in zip((height, width), self.kernel_size, self.strides):
            if self.padding == "same":
                out = -(-size // stride)
                total = max((out - 1) * stride + kernel - size, 0)
            else:
                out = (size - kernel) // stride + 1
                total = 0
            pads.append((total // 2, total - total // 2))  # TensorFlow's extra pixel after
            sizes.append(out)
        return kind, pads, sizes

    def convolution_op(self, inputs, kernel):
        plan = self._taps(inputs.shape)
        if plan is None:
            return super().convolution_op(inputs, kernel)
        kind, (rows, columns), (height, width) = plan
        (kh, kw), (sh, sw) = self.kernel_size, self.strides
        offsets = [(a, b) for a in range(kh) for b in range(kw)]
        if kind == "inputs":
            padded = tf.pad(inputs, [[0, 0], rows, columns, [0, 0]])
            patches = tf.concat(
                [
                    padded[:, a : a + sh * (height - 1) + 1 : sh, b : b + sw * (width - 1) + 1 : sw]
                    for a, b in offsets
                ],
                axis=-1,
            )  # channel index (a kw + b) c_in + c, the order of the kernel's reshape
            return tf.tensordot(patches, tf.reshape(kernel, [-1, self.filters]), 1)
        # Kernel as (c_in, kh kw c_out): column (a kw + b) c_out + o is tap (a, b), output o.
        taps = tf.reshape(tf.transpose(kernel, [2, 0, 1, 3]), [inputs.shape[-1], -1])
        products = tf.pad(tf.tensordot(inputs, taps, 1), [[0, 0], rows, columns, [0, 0]])
        slices = []
        for tap, (a, b) in enumerate(offsets):
            first = tap * self.filters
            slices.append(products[:, a : a + height, b : b + width, first : first + self.filters])
        return tf.add_n(slices)
