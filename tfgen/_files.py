"""Writing a file so that a failed or killed write never leaves it half-written."""

from __future__ import annotations

import contextlib
import os
import tempfile


@contextlib.contextmanager
def replaced_atomically(path):
    """Yields a temporary path beside `path` (same extension) to write; once the block ends
    without error, it is renamed over `path`. A full disk, an exception or a kill inside the
    block leaves `path` as it was (the temporary file is removed, except after a kill: it is a
    hidden `.<name>.*` file beside `path`)."""
    path = os.path.abspath(os.fspath(path))
    directory, name = os.path.split(path)
    descriptor, staging = tempfile.mkstemp(
        prefix=f".{name}.", suffix=os.path.splitext(name)[1], dir=directory
    )
    os.close(descriptor)
    try:
        yield staging
        os.replace(staging, path)
    finally:
        if os.path.exists(staging):
            os.remove(staging)
