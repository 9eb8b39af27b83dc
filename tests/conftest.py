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

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def two_replicas():
    """One MirroredStrategy over the two logical CPUs, shared by every test.

    Several MirroredStrategy objects in one process hand out colliding collective instance keys
    ("Shape mismatch in the collective instance ..."), so the tests share a single one.
    """
    devices = [d.name for d in tf.config.list_logical_devices("CPU")][:2]
    return tf.distribute.MirroredStrategy(devices)
