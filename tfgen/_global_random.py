"""Work that must not move the process-wide random generators a seeded run depends on.

`keras.utils.set_random_seed` seeds Python's `random`, NumPy's legacy global generator and
TensorFlow; Keras then draws the seeds of unseeded layers and of `keras.random` calls from
Python's `random`. Anything that runs between the seed and training and draws from these
generators only sometimes (e.g. tensorflow-datasets naming its temporary folder with
`random.choice` when, and only when, a dataset has to be prepared) would make a seeded run
depend on what was already on disk. Such work runs inside `untouched()`.
"""

from __future__ import annotations

import contextlib
import random

import numpy as np


@contextlib.contextmanager
def untouched():
    """Restores Python's and NumPy's global random states on exit, whatever ran inside."""
    python_state = random.getstate()
    numpy_state = np.random.get_state()  # noqa: NPY002  (the global one is what is kept)
    try:
        yield
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)  # noqa: NPY002
