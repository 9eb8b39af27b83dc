"""Keras callbacks for generative models: sample grids, NaN termination, safe checkpoints.

- `SampleGrid` writes `samples/epoch_NNN.png`, the images of one FIXED batch of latent codes,
  during `fit`, so successive grids show how the same codes evolve; `ReconstructionGrid` does
  the same for a reconstruction model with one fixed batch of images.
- `TerminateOnNaN` stops training when ANY logged value becomes NaN or infinite; Keras' own
  callback of that name watches only a "loss" key, which the GAN's logs (d_loss, g_loss, ...)
  do not have.
- `SafeCheckpoint` saves the model to a `.keras` file at the end of each epoch, atomically,
  and never over a good checkpoint with a diverged (non-finite) model.
- `StepBackup` backs up the whole training state (weights, optimizer slots and counters, step
  counters) every few steps, atomically and with a checksum, for an exact resume.

Under a multi-worker strategy only the chief worker (task "chief", or "worker" 0 when there is
no chief, as given by TF_CONFIG) writes files.
"""

# One module a callback (grids, nan_stop, checkpoints, backup, evaluation); every name that
# `tfgen.callbacks` held before it became a package stays importable from here.
from tfgen.callbacks._common import (
    is_chief,
    tensorboard_available,  # noqa: F401
)
from tfgen.callbacks.backup import (
    BACKUP_FILES,  # noqa: F401
    StepBackup,
    metric_variables,
    training_variables,
)
from tfgen.callbacks.checkpoints import (
    SafeCheckpoint,
    save_atomically,  # noqa: F401
)
from tfgen.callbacks.evaluation import EvaluateGenerator
from tfgen.callbacks.grids import (  # noqa: F401
    DEFAULT_LATENT_BATCH,
    MAX_LATENT_BATCH,
    ReconstructionGrid,
    SampleGrid,
)
from tfgen.callbacks.nan_stop import TerminateOnNaN

__all__ = [
    "EvaluateGenerator",
    "ReconstructionGrid",
    "SafeCheckpoint",
    "SampleGrid",
    "StepBackup",
    "TerminateOnNaN",
    "is_chief",
    "metric_variables",
    "training_variables",
]
