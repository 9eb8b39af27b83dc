"""Imports TensorFlow first, honouring TF_CPP_MIN_LOG_LEVEL for its import-time messages.

TensorFlow's CUDA loader logs through absl before absl's logging is initialised, and those
lines reach stderr whatever TF_CPP_MIN_LOG_LEVEL says ("Could not find cuda drivers on your
machine"), and so does the first search for devices on a machine without a GPU ("failed call
to cuInit"). When that variable asks for fewer messages (1 or more) and TensorFlow is not
imported yet, stderr is pointed at /dev/null while TensorFlow imports and lists the physical
devices (which leaves them configurable); Python exceptions still propagate as usual.
"""

import contextlib
import os
import sys


@contextlib.contextmanager
def stderr_silenced():
    """Sends the process's stderr (file descriptor 2, C++ included) to /dev/null inside."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def wants_quiet():
    return os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0").strip() not in ("", "0")


if "tensorflow" not in sys.modules and wants_quiet():
    with stderr_silenced():
        import tensorflow

        tensorflow.config.list_physical_devices()
