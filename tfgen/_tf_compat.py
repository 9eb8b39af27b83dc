"""Kept for the modules that import `in_xla_context` from here: it lives in `_keras_compat`,
the one module of private Keras and TensorFlow hooks."""

from tfgen._keras_compat import in_xla_context

__all__ = ["in_xla_context"]
