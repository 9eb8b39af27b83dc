"""`SafeCheckpoint` and `save_atomically`: `.keras` files written whole, never a diverged model."""

from __future__ import annotations

import os
import warnings

import keras

from tfgen import _checks as checks
from tfgen import _files
from tfgen.callbacks._common import (
    _non_finite_log,
    _non_finite_variable,
    is_chief,
)


class SafeCheckpoint(keras.callbacks.Callback):
    """Saves the whole model to a `.keras` file at the end of every epoch, atomically.

    The model is written to a temporary file in the same directory and moved over `path` with
    `os.replace`, so `path` always holds a complete file, even if the process dies while
    saving. The save is SKIPPED, with a `RuntimeWarning`, when any logged value or any weight
    (optimizer variables included) is NaN or infinite: a diverged model never replaces the last
    good checkpoint.

    Args:
        path: File to write; must end in ".keras". Missing directories are created.
        every_n_epochs: Save when the epoch number (from 1) is a multiple of this.

    Attributes:
        saved: Epochs (from 1) saved so far.
        skipped: Epochs (from 1) whose save was skipped because of non-finite values.
    """

    def __init__(self, path, every_n_epochs=1):
        super().__init__()
        if not isinstance(path, str | os.PathLike) or not os.fspath(path).endswith(".keras"):
            raise ValueError(f"path must be a file path ending in '.keras', got {path!r}")
        self.path = os.path.abspath(os.fspath(path))
        self.every_n_epochs = checks.positive_int(every_n_epochs, "every_n_epochs")
        self.saved = []
        self.skipped = []

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every_n_epochs == 0:
            self.save(epoch + 1, logs)

    def save(self, epoch, logs=None):
        """Saves now unless `logs` or the weights hold non-finite values; returns whether."""
        found = _non_finite_log(logs)
        reason = f"{found[0]} = {found[1]}" if found else None
        if reason is None:
            variable = _non_finite_variable(self.model)
            reason = f"the variable {variable} is not finite" if variable else None
        if reason is not None:
            self.skipped.append(epoch)
            warnings.warn(
                f"Epoch {epoch}: {reason}; not saving the checkpoint, {self.path} keeps the "
                "last good model.",
                RuntimeWarning,
                stacklevel=2,
            )
            return False
        if is_chief():
            save_atomically(self.model, self.path)
        self.saved.append(epoch)
        return True


def save_atomically(model, path):
    """`model.save(path)` through a temporary file beside it (`_files.replaced_atomically`)."""
    with _files.replaced_atomically(path, suffix=".keras") as staging:
        model.save(staging, overwrite=True)
    return os.path.abspath(os.fspath(path))
