"""Test set-up: quiet TensorFlow and split the CPU into two logical devices.

The split must happen before TensorFlow initialises its devices, so it lives here, at import time
of the test session. Two logical CPUs let `tf.distribute.MirroredStrategy` run two replicas on a
machine without GPUs.

Every test must leave the process-wide Keras and TensorFlow settings as it found them, so that no
result depends on the tests that ran before it: `process_settings_unchanged` fails a test that
does not (and restores them for the next).
"""

import gc
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import tensorflow as tf  # noqa: E402

_cpus = tf.config.list_physical_devices("CPU")
tf.config.set_logical_device_configuration(
    _cpus[0], [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()]
)

import keras  # noqa: E402
import pytest  # noqa: E402
from absl import logging as absl_logging  # noqa: E402


def _process_settings():
    return {
        "dtype policy": keras.mixed_precision.dtype_policy().name,
        "floatx": keras.config.floatx(),
        "image data format": keras.config.image_data_format(),
        "grappler options": tf.config.optimizer.get_experimental_options(),
        "eager functions": tf.config.functions_run_eagerly(),
        "TensorFlow logger level": tf.get_logger().level,
        "absl verbosity": absl_logging.get_verbosity(),
    }


#: A test that ran at least this long (seconds) has its garbage collected as it ends.
COLLECT_AFTER = 2.0


@pytest.fixture(autouse=True)
def garbage_collected_young():
    """Collects a long test's garbage when it ends, then freezes what survives (`gc.freeze`).

    Destroying a tf.data iterator whose pipeline tf.data's autotuner watches waits until the
    autotuner's thread next wakes (seen in a debugger), which can be far off once the iterator
    is older (a tiny Keras fit on arrays stopped after 3 steps, its iterator collected after:
    under 2 s within 8 s of the fit; 9 s at 12 s, 21 s at 20 s). Iterators a test drops inside
    reference cycles (a fit stopped by an exception, a model kept with its iterator) were
    destroyed by the collector inside a later, unrelated test, which stood still for up to
    43 s (three such waits, 124 s in all, in one run of the suite). Collected as their test
    ends they go in a second or two.

    A full collection walks every tracked object, and late in the suite the process holds
    many (TensorFlow's and Keras' long-lived state): 1.3-1.7 s each, dozens of times in
    tests/test_properties.py alone, so collecting after every test of 2 s or more cost more
    than it saved. Frozen after each collection, the survivors leave the collector's sight,
    and the next collection walks only what later tests made. (What was frozen is never
    collected: module-scoped fixtures' cycles stay in memory until the process ends.)
    """
    start = time.perf_counter()
    yield
    if time.perf_counter() - start >= COLLECT_AFTER:
        gc.collect()
        gc.freeze()


@pytest.fixture(autouse=True)
def process_settings_unchanged():
    before = _process_settings()
    yield
    after = _process_settings()
    keras.mixed_precision.set_dtype_policy(before["dtype policy"])
    keras.config.set_floatx(before["floatx"])
    keras.config.set_image_data_format(before["image data format"])
    tf.config.optimizer.set_experimental_options(
        {**dict.fromkeys(after["grappler options"], None), **before["grappler options"]}
    )
    tf.config.run_functions_eagerly(before["eager functions"])
    tf.get_logger().setLevel(before["TensorFlow logger level"])
    absl_logging.set_verbosity(before["absl verbosity"])
    changed = [name for name in before if before[name] != after[name]]
    assert not changed, f"the test changed the process-wide {', '.join(changed)}"


@pytest.fixture(scope="session")
def two_replicas():
    """One MirroredStrategy over the two logical CPUs, shared by every test.

    Several MirroredStrategy objects in one process hand out colliding collective instance keys
    ("Shape mismatch in the collective instance ..."), so the tests share a single one.
    """
    devices = [d.name for d in tf.config.list_logical_devices("CPU")][:2]
    return tf.distribute.MirroredStrategy(devices)
