"""Writing a file or a directory so that a failed or killed write never leaves it half-written.

Every atomic write in tfgen goes through `replaced_atomically`: the new content is written to a
hidden temporary sibling, `.<name>.tmp-<random><suffix>`, renamed over the target once complete.
That one name pattern (`STAGING_PATTERN`) is how `remove_leftovers` finds what a killed write left
behind.
"""

from __future__ import annotations

import contextlib
import fnmatch
import os
import shutil
import tempfile

#: The names of the temporary siblings `replaced_atomically` writes (a shell pattern).
STAGING_PATTERN = ".*.tmp-*"


def _staging(directory, name, suffix="", is_directory=False):
    """A new empty temporary file (or directory) beside `name` in `directory`."""
    prefix = f".{name}.tmp-"
    if is_directory:
        return tempfile.mkdtemp(prefix=prefix, suffix=suffix, dir=directory)
    descriptor, staging = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=directory)
    os.close(descriptor)
    return staging


def _remove(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path):
        os.remove(path)


def _fsync(path):
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


@contextlib.contextmanager
def replaced_atomically(path, suffix=None, directory=False, previous=None, durable=False):
    """Yields a temporary path beside `path` to write; once the block ends without error, it
    replaces `path`.

    A full disk, an exception or a kill inside the block leaves `path` as it was: the temporary
    is removed, except after a kill, when it stays as a hidden `.<name>.tmp-*` sibling that
    `remove_leftovers` deletes. Missing parent directories are created.

    Args:
        path: The file (or directory) to write.
        suffix: How the temporary name ends; by default `path`'s extension. Writers that check
            the name need theirs: Keras' `save_weights` wants ".weights.h5".
        directory: Yield an empty temporary directory (a SavedModel) instead of a file. A
            directory cannot be renamed over a non-empty one, so an old `path` is first moved
            aside (to a temporary sibling), put back should the rename fail, and deleted only
            once the new one is in place.
        previous: Keep the old `path`, when there is one, by renaming it to this path (which
            it replaces) just before the new content takes its place; None: discard it.
        durable: Flush the new file to disk (fsync) before the rename, so that a power cut
            cannot leave the renamed file empty.
    """
    path = os.path.abspath(os.fspath(path))
    parent, name = os.path.split(path)
    os.makedirs(parent, exist_ok=True)
    suffix = os.path.splitext(name)[1] if suffix is None else suffix
    staging = _staging(parent, name, suffix, directory)
    try:
        yield staging
        if durable and not directory:
            _fsync(staging)
        if previous is not None and os.path.lexists(path):
            os.replace(path, os.path.abspath(os.fspath(previous)))
        if directory and os.path.lexists(path):
            aside = _staging(parent, name, is_directory=True)
            os.rmdir(aside)
            os.replace(path, aside)
            try:
                os.replace(staging, path)
            except BaseException:
                os.replace(aside, path)
                raise
            _remove(aside)
        else:
            os.replace(staging, path)
    finally:
        _remove(staging)


def leftovers(directory):
    """The names in `directory` of temporaries that killed atomic writes left behind."""
    if not os.path.isdir(directory):
        return []
    return sorted(fnmatch.filter(os.listdir(directory), STAGING_PATTERN))


def remove_leftovers(directory):
    """Deletes the `leftovers` in `directory`; returns their names."""
    names = leftovers(directory)
    for name in names:
        _remove(os.path.join(directory, name))
    return names
