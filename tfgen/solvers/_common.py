"""What the solvers' methods share: dtypes, inner products, the loss and its gradients."""

from __future__ import annotations

import tensorflow as tf

# ----------------------------------------------------------------------------------------------
# Shared pieces. Scalars (losses, inner products, steps) are float64; per-variable tensors keep
# their variable's dtype.

_F64 = tf.float64
_INT32_MAX = 2**31 - 1  # iteration counters are int32
_EPSILON = {tf.float16: 2.0**-10, tf.bfloat16: 2.0**-7, tf.float32: 2.0**-23, tf.float64: 2.0**-52}


def _dot(xs, ys):
    """Inner product over all variables together, as a float64 scalar."""
    total = tf.constant(0.0, _F64)
    for x, y in zip(xs, ys, strict=True):
        if x.dtype in (tf.float16, tf.bfloat16):
            # Half-precision sums overflow easily; accumulate in float32.
            x, y = tf.cast(x, tf.float32), tf.cast(y, tf.float32)
        total += tf.cast(tf.reduce_sum(x * y), _F64)
    return total


def _value_and_gradients(loss_fn, variables):
    """loss_fn() as float64 and its gradients (dense, zero where unconnected)."""
    with tf.GradientTape(watch_accessed_variables=False) as tape:
        for v in variables:
            tape.watch(v)
        loss = loss_fn()
        if not tf.is_tensor(loss):
            loss = tf.convert_to_tensor(loss)
    if loss.shape.rank != 0:
        raise ValueError(
            f"loss_fn must return a scalar (shape ()), got a tensor of shape {loss.shape}"
        )
    if not loss.dtype.is_floating:
        raise ValueError(f"loss_fn must return a floating scalar, got dtype {loss.dtype.name}")
    grads = tape.gradient(loss, variables)
    if all(g is None for g in grads):
        raise ValueError(
            "loss_fn must depend on variables, but its gradient with respect to every variable "
            "is None (was the loss computed outside TensorFlow, or from copies of the variables?)"
        )
    grads = [
        tf.zeros_like(v) if g is None else tf.convert_to_tensor(g)
        for g, v in zip(grads, variables, strict=True)
    ]
    return tf.cast(loss, _F64), grads, loss.dtype
