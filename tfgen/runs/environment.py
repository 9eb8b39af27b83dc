"""The process a run trains in: quiet logging and seeded, optionally deterministic, ops."""

from __future__ import annotations

import os

import keras
import tensorflow as tf
from absl import logging as absl_logging

from tfgen import _checks as checks


def quiet():
    """Keeps a script's output to Keras' progress and its own prints.

    Hides TensorFlow's and absl's INFO and WARNING lines. TensorFlow's C++ logging reads
    TF_CPP_MIN_LOG_LEVEL once, when TensorFlow is imported, so a script sets that variable
    before its first `import tfgen` too (this sets it for the processes it starts), and tfgen
    then keeps TensorFlow's import-time lines from stderr.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    absl_logging.set_verbosity(absl_logging.ERROR)
    tf.get_logger().setLevel("ERROR")
    tf.autograph.set_verbosity(0)


def set_random_seed(seed, deterministic=False):
    """Seeds Python, NumPy, TensorFlow and Keras; `deterministic` also makes ops deterministic.

    With `deterministic=True`, `tf.config.experimental.enable_op_determinism()` makes every op
    give the same result on every run (ops without a deterministic kernel then raise), so two
    runs with the same seed on the same machine end with bit-identical weights.
    """
    keras.utils.set_random_seed(checks.seed(seed, optional=False))
    if deterministic:
        tf.config.experimental.enable_op_determinism()
