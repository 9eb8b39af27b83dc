"""Runs an example script with the CPU split into two logical devices (tests only).

`python tests/two_cpu_devices.py examples/train_gan.py --strategy=mirrored ...` runs the script
as `__main__` with the given flags after splitting the CPU, so that its `MirroredStrategy`
trains two replicas on a machine without GPUs, as tests/conftest.py does in the test process.
"""

import os
import runpy
import sys

import tensorflow as tf

_cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    _cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()]
)

if __name__ == "__main__":
    script = os.path.abspath(sys.argv[1])
    sys.argv = [script, *sys.argv[2:]]
    sys.path.insert(0, os.path.dirname(script))
    runpy.run_path(script, run_name="__main__")
