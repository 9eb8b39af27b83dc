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
    Keras' layer's up to float32 rounding (tests/test_layers.py, also against numpy).

    `synchronized=True` on N > 1 replicas of a `tf.distribute` strategy (cross-replica batch
    norm): the moments are those of the global batch, as on one device with the same global
    batch, with fused kernels and one all-reduce forward and one backward (`_synchronized`);
    Keras' own path all-reduces three tensors forward and two backward between a dozen
    separate ops, and takes the variance as E[x^2] - E[x]^2, which cancels. On one replica
    the statistics are the local ones either way.

    Every other case is Keras' own path: inference, masks, `renorm`, other ranks or axes, an
    epsilon below the kernel's 1.001e-5, and XLA. Takes Keras' arguments; a model saved with it
    loads with tfgen imported.
    """

    def _fused_applies(self, inputs, training, mask):
        return (
            training
            and self.trainable
            and mask is None
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
        replica = tf.distribute.get_replica_context()
        if self.synchronized and replica is not None and replica.num_replicas_in_sync > 1:
            outputs, mean, variance = self._synchronized(x, gamma, beta, replica)
        else:
            outputs, mean, variance = _local_moments_and_outputs(x, gamma, beta, self.epsilon)
        momentum = self.momentum
        self.moving_mean.assign(
            tf.cast(self.moving_mean, "float32") * momentum + mean * (1.0 - momentum)
        )
        self.moving_variance.assign(
            tf.cast(self.moving_variance, "float32") * momentum + variance * (1.0 - momentum)
        )
        return tf.cast(outputs, self.compute_dtype)

    def _synchronized(self, x, gamma, beta, replica):
        """Outputs and the global batch's mean and biased variance, over all replicas.

        Each replica's fused kernel gives its n_r examples' mean m_r and variance v_r; one
        all-reduce sums n_r (m_r - K) and n_r (v_r + (m_r - K)^2), whence (Chan et al. 1979,
        "Updating formulae and a pairwise algorithm for computing sample variances")

        ```
        mean = K + sum_r n_r (m_r - K) / N
        var  = sum_r n_r (v_r + (m_r - K)^2) / N - (mean - K)^2
        ```

        The shift K is the moving mean, the same on every replica and near the batch's, which
        keeps the subtraction from cancelling. The outputs come from the inference form of the
        fused kernel at these moments. Its gradient is the batch-norm gradient of the global
        batch (Ioffe & Szegedy 2015, section 3), with x^ = (x - mean) / sqrt(var + eps):

        ```
        dx = gamma / sqrt(var + eps) (dy - sum(dy) / N - x^ sum(dy x^) / N)
        ```

        where both sums span all replicas (one all-reduce of the kernel's local d beta and
        d gamma); each replica's d gamma and d beta stay local, as the optimizer sums them.
        """
        channels = x.shape[-1]
        shift = tf.stop_gradient(tf.cast(self.moving_mean, "float32"))
        _, local_mean, local_variance = _local_moments_and_outputs(
            tf.stop_gradient(x), tf.ones([channels]), tf.zeros([channels]), self.epsilon
        )
        local_count = tf.cast(tf.size(x) // channels, "float32")
        offset = local_mean - shift
        sums = replica.all_reduce(
            tf.distribute.ReduceOp.SUM,
            tf.concat(
                [
                    local_count * offset,
                    local_count * (local_variance + tf.square(offset)),
                    local_count[None],
                ],
                axis=0,
            ),
        )
        count = sums[2 * channels]
        offset = tf.math.divide_no_nan(sums[:channels], count)
        mean = shift + offset
        variance = tf.maximum(
            tf.math.divide_no_nan(sums[channels : 2 * channels], count) - tf.square(offset), 0.0
        )
        epsilon = self.epsilon

        @tf.custom_gradient
        def normalize(x, gamma, beta):
            outputs, _, _, _, _, reserve = tf.raw_ops.FusedBatchNormV3(
                x=x, scale=gamma, offset=beta, mean=mean, variance=variance, epsilon=epsilon,
                data_format="NHWC", is_training=False,
            )  # fmt: skip

            def gradient(upstream):
                # Inference form: dx = gamma dy / sqrt(var + eps), local sums of dy x^ and dy.
                scaled, d_gamma, d_beta, _, _ = tf.raw_ops.FusedBatchNormGradV3(
                    y_backprop=upstream, x=x, scale=gamma, reserve_space_1=mean,
                    reserve_space_2=variance, reserve_space_3=reserve, epsilon=epsilon,
                    data_format="NHWC", is_training=False,
                )  # fmt: skip
                totals = replica.all_reduce(
                    tf.distribute.ReduceOp.SUM, tf.concat([d_beta, d_gamma], axis=0)
                )
                mean_dy = tf.math.divide_no_nan(totals[:channels], count)
                mean_dy_normalized = tf.math.divide_no_nan(totals[channels:], count)
                inverse_std = tf.math.rsqrt(variance + epsilon)
                # scaled - gamma inv (mean_dy + x^ mean_dy_normalized), as a x + b per channel.
                slope = -gamma * tf.square(inverse_std) * mean_dy_normalized
                intercept = -gamma * inverse_std * mean_dy - slope * mean
                return scaled + x * slope + intercept, d_gamma, d_beta

            return outputs, gradient

        return normalize(x, gamma, beta), mean, variance


def _local_moments_and_outputs(x, gamma, beta, epsilon):
    """The fused kernel's training outputs, the batch's mean and its biased variance."""
    outputs, mean, corrected = tf.compat.v1.nn.fused_batch_norm(
        x, gamma, beta, epsilon=epsilon, data_format="NHWC", is_training=True
    )
    # The kernel's variance is n/(n-1) times the batch's; Keras keeps the batch's own.
    count = tf.cast(tf.size(x) // x.shape[-1], "float32")
    variance = corrected * (tf.maximum(count - 1.0, 0.0) / tf.maximum(count, 1.0))
    return outputs, mean, variance


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
