"""TensorFlow's fused optimizer kernels: whether tfgen runs them, and the handles they take."""

import keras
import tensorflow as tf

# TensorFlow's fused kernels (one pass over memory per variable) when the backend is
# TensorFlow; otherwise the `keras.ops` form of the rules in `tfgen.optimizers.rules`.
USE_FUSED_KERNELS = keras.backend.backend() == "tensorflow"


def resource_handle(variable):
    """The resource handle of a model or optimizer variable, for TensorFlow's fused kernels.

    Inside `tf.distribute`'s `extended.update` a distributed variable's `handle` is the copy on
    the device being updated, so the fused kernels work under every strategy.
    """
    if isinstance(variable, tf.Tensor):  # already a handle
        return variable
    if isinstance(variable, keras.Variable):
        variable = variable.value
    return variable.handle
