"""`TerminateOnNaN`: stop training when any logged value stops being finite."""

from __future__ import annotations

import keras

from tfgen.callbacks._common import (
    _non_finite_log,
)


class TerminateOnNaN(keras.callbacks.Callback):
    """Stops training as soon as any logged value is NaN or infinite.

    Checks every value of the logs after each training batch and each epoch (validation
    metrics included), prints which metric diverged where, and sets `model.stop_training`, so
    other callbacks still end cleanly; with `raise_error=True` it raises `RuntimeError` instead.

    Attributes:
        stopped: None, or a dict with keys epoch (from 1), batch (from 0; None when found in
            the epoch's logs), metric and value, once training was stopped.
        message: The message printed when it stopped.
    """

    def __init__(self, raise_error=False):
        super().__init__()
        self.raise_error = bool(raise_error)
        self.stopped = None
        self.message = None
        self._epoch = 0

    def on_train_begin(self, logs=None):
        self.stopped = None
        self.message = None

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch + 1

    def on_train_batch_end(self, batch, logs=None):
        self._check(logs, batch)

    def on_epoch_end(self, epoch, logs=None):
        self._epoch = epoch + 1
        self._check(logs, None)

    def _check(self, logs, batch):
        if self.stopped is not None:
            return
        found = _non_finite_log(logs)
        if found is None:
            return
        metric, value = found
        where = f"epoch {self._epoch}" + (f", batch {batch}" if batch is not None else " end")
        self.stopped = dict(epoch=self._epoch, batch=batch, metric=metric, value=value)
        self.message = (
            f"{metric} = {value} at {where}: training diverged; terminating. Lower the "
            "learning rates, add a gradient penalty or clip gradients, and restart from the "
            "last good checkpoint."
        )
        if self.raise_error:
            raise RuntimeError(self.message)
        print(self.message, flush=True)
        self.model.stop_training = True
