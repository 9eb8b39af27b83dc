"""Test set-up: quiet TensorFlow and split the CPU into two logical devices.

The split must happen before TensorFlow initialises its devices, so it lives here, at import time
of the test session. Two logical CPUs let `tf.distribute.MirroredStrategy` run two replicas on a
machine without GPUs.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import tensorflow as tf  # noqa: E402

_cpus = tf.config.list_physical_devices("CPU")
tf.config.set_logical_device_configuration(
    _cpus[0], [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()]
)
