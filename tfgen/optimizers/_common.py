"""What the tfgen optimizers share: argument checks, gradient preparation and doc text."""

import tensorflow as tf
from keras.src import backend
from keras.src.optimizers import base_optimizer

# The keyword arguments every Keras optimizer accepts, documented once (as Keras does).
SHARED_ARGS_DOC = (
    """maximize: Boolean. If `True`, the optimizer ascends the objective (gradient
            ascent), as PyTorch's `maximize`: the gradient's sign is flipped before the
            update, while weight decay still shrinks the weights. Defaults to `False`.
        """
    + base_optimizer.base_optimizer_keyword_args
)


def fill_docstring(cls):
    """Splices the shared argument documentation into `cls.__doc__`."""
    if cls.__doc__:
        cls.__doc__ = cls.__doc__.replace("{{shared_args}}", SHARED_ARGS_DOC)
    return cls


def check_learning_rate(learning_rate):
    """Rejects a negative constant learning rate; schedules and callables pass through."""
    if isinstance(learning_rate, int | float) and not isinstance(learning_rate, bool):
        if learning_rate < 0:
            raise ValueError(f"learning_rate must be >= 0, got {learning_rate}")
        # Keras accepts only floats for a constant rate; `1` is as clear as `1.0`.
        return float(learning_rate)
    return learning_rate


def check_unit_interval(name, value):
    """Checks that a hyperparameter lies in [0, 1), as momenta and Adam's betas must."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1:
        raise ValueError(f"{name} must be a float in [0, 1), got {value!r}")
    return float(value)


def check_positive(name, value):
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ValueError(f"{name} must be a float > 0, got {value!r}")
    return float(value)


def prepare_gradient(gradient, variable, maximize):
    """The dense gradient, cast to the variable's dtype and negated for gradient ascent.

    Sparse `IndexedSlices` gradients (from an `Embedding`) are densified: momentum and Adam decay
    every row of their state each step, so a row-wise (lazy) update would compute another
    algorithm.
    """
    gradient = tf.cast(tf.convert_to_tensor(gradient), variable.dtype)
    return -gradient if maximize else gradient


def resource_handle(variable):
    """The resource handle of a model or optimizer variable, for TensorFlow's fused kernels.

    Inside `tf.distribute`'s `extended.update` a distributed variable's `handle` is the copy on
    the device being updated, so the fused kernels work under every strategy.
    """
    if isinstance(variable, backend.Variable):
        variable = variable.value
    return variable.handle
