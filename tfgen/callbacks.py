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

from __future__ import annotations

import hashlib
import importlib.util
import json
import numbers
import os
import tempfile
import warnings
import zipfile

import keras
import numpy as np
import tensorflow as tf
from matplotlib import image as mpimg

from tfgen import _checks as checks
from tfgen import plot
from tfgen.models import sampling_network

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

#: Latent codes in a sample grid when `latent_batch` is None: an 8 x 8 grid.
DEFAULT_LATENT_BATCH = 64
#: Most images in one sample grid (a 32 x 32 grid): more would make pictures no one can read.
MAX_LATENT_BATCH = 1024


def is_chief() -> bool:
    """Whether this process writes files: True unless TF_CONFIG names a non-chief task."""
    try:
        config = json.loads(os.environ.get("TF_CONFIG") or "{}")
        task, cluster = config.get("task") or {}, config.get("cluster") or {}
        kind, index = task.get("type"), int(task.get("index") or 0)
    except (ValueError, TypeError, AttributeError):
        return True
    if kind in (None, "chief"):
        return True
    return kind == "worker" and index == 0 and "chief" not in cluster


def tensorboard_available() -> bool:
    """Whether the `tensorboard` package, which `tf.summary` writes through, is installed."""
    return importlib.util.find_spec("tensorboard") is not None


def _non_finite_log(logs):
    """The first (name, value) of `logs` whose value is a non-finite number, else None."""
    for name, value in (logs or {}).items():
        try:
            array = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            continue  # Not numeric (a string, a list of names): nothing to check.
        if array.size and not np.all(np.isfinite(array)):
            shown = float(array.reshape(-1)[~np.isfinite(array.reshape(-1))][0])
            return name, shown
    return None


def _model_variables(model):
    """The model's weights and the variables of every optimizer it holds (GANs have two)."""
    variables = list(model.weights)
    optimizers = [getattr(model, "optimizer", None)]
    optimizers += [v for v in vars(model).values() if isinstance(v, keras.optimizers.Optimizer)]
    seen = set()
    for optimizer in optimizers:
        if optimizer is None or id(optimizer) in seen:
            continue
        seen.add(id(optimizer))
        variables.extend(optimizer.variables)
    return variables


def _non_finite_variable(model):
    """Path of the first floating-point variable of `model` with a non-finite entry, else None."""
    for variable in _model_variables(model):
        if not tf.as_dtype(variable.dtype).is_floating:
            continue
        if not np.all(np.isfinite(keras.ops.convert_to_numpy(variable))):
            return getattr(variable, "path", None) or variable.name
    return None


def _to_unit_numpy(images):
    """Model images in [-1, 1] -> float32 numpy in [0, 1] (NaN stays NaN, to be noticed)."""
    images = keras.ops.convert_to_numpy(images).astype(np.float32)
    return np.clip((images + 1.0) / 2.0, 0.0, 1.0)


class _EpochGrid(keras.callbacks.Callback):
    """Writes `output_dir/samples/epoch_NNN.png` from `images()` every few epochs."""

    def __init__(self, output_dir, every_n_epochs, tensorboard_dir, columns=None):
        super().__init__()
        if not isinstance(output_dir, str | os.PathLike) or not os.fspath(output_dir):
            raise ValueError(f"output_dir must be a directory path, got {output_dir!r}")
        self.output_dir = os.fspath(output_dir)
        self.every_n_epochs = checks.positive_int(every_n_epochs, "every_n_epochs")
        self.tensorboard_dir = tensorboard_dir
        self.columns = columns
        self.written = []
        self._writer = None
        self._last_epoch = None
        self._last_written = None

    def images(self):
        raise NotImplementedError

    def title(self, epoch):
        return f"epoch {epoch}"

    def on_train_begin(self, logs=None):
        self._last_epoch = self._last_written = None
        if self.tensorboard_dir is not None and is_chief() and tensorboard_available():
            self._writer = tf.summary.create_file_writer(
                os.path.join(os.fspath(self.tensorboard_dir), "samples")
            )

    def on_epoch_end(self, epoch, logs=None):
        self._last_epoch = epoch + 1
        if (epoch + 1) % self.every_n_epochs == 0:
            self.write(epoch + 1)

    def on_train_end(self, logs=None):
        if self._last_epoch is not None and self._last_written != self._last_epoch:
            self.write(self._last_epoch)
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def write(self, epoch):
        """Writes the grid of epoch `epoch` (counted from 1); returns its path or None."""
        self._last_written = epoch
        if not is_chief():
            return None
        images = self.images()
        if not np.all(np.isfinite(images)):
            warnings.warn(
                f"Epoch {epoch}: the model's images are not finite (NaN or inf); no sample "
                "grid written.",
                RuntimeWarning,
                stacklevel=2,
            )
            return None
        path = os.path.join(self.output_dir, "samples", f"epoch_{epoch:03d}.png")
        plot.image_grid(images, path, columns=self.columns, title=self.title(epoch))
        self.written.append(path)
        if self._writer is not None:
            grid = mpimg.imread(path)[..., :3]
            with self._writer.as_default():
                tf.summary.image("samples", grid[None], step=epoch)
            self._writer.flush()
        return path


class SampleGrid(_EpochGrid):
    """Writes a grid of the images of a fixed batch of latent codes every few epochs.

    Files: `output_dir/samples/epoch_NNN.png` (epochs counted from 1), drawn with
    `tfgen.plot.image_grid`; the grid of the last epoch is written at the end of training when
    `every_n_epochs` skipped it. The codes are drawn once,
    `tf.random.stateless_normal([n, *code_shape], seed=[seed, 0])`, the codes of
    `GAN.generate(n, seed=seed)` (and of `VAE.sample(n, seed=seed)`), and reused at every epoch.
    Images come from the model's `sampling_generator` (a GAN's moving-average generator when
    it has one), else its `generator` or `decoder`, in inference mode.

    For a conditional model (one with `num_classes` K, whose generator takes `[z, labels]`)
    the grid has one row per class, 0 to K - 1 from the top, each row the same
    `ceil(n / K)` codes (the first of the n drawn), so a column shows one code in every class.

    Args:
        output_dir: Run directory; grids go to its `samples` sub-directory.
        every_n_epochs: Write a grid when the epoch number is a multiple of this.
        latent_batch: None (`DEFAULT_LATENT_BATCH` codes), a number of codes, or an array of
            codes (n, *code_shape) to use as they are.
        seed: Seed of the codes.
        tensorboard_dir: Optional TensorBoard log directory; the grids are also logged there
            as images (run "samples", tag "samples") when the `tensorboard` package is
            installed.

    Attributes:
        written: Paths of the grids written so far.
    """

    def __init__(
        self, output_dir, every_n_epochs=1, latent_batch=None, seed=0, tensorboard_dir=None
    ):
        super().__init__(output_dir, every_n_epochs, tensorboard_dir)
        allowed = "None, a positive int or an array of codes (n, *code_shape)"
        if latent_batch is not None and not isinstance(latent_batch, numbers.Integral):
            latent_batch = np.asarray(latent_batch, dtype=np.float32)
            if latent_batch.ndim < 2 or latent_batch.shape[0] < 1:
                raise ValueError(
                    f"latent_batch must be {allowed}, got an array of shape {latent_batch.shape}"
                )
        elif isinstance(latent_batch, bool) or (latent_batch is not None and latent_batch < 1):
            raise ValueError(f"latent_batch must be {allowed}, got {latent_batch!r}")
        count = latent_batch if isinstance(latent_batch, numbers.Integral) else len(latent_batch)
        if latent_batch is not None and count > MAX_LATENT_BATCH:
            raise ValueError(f"latent_batch must be at most {MAX_LATENT_BATCH} codes, got {count}")
        self.latent_batch = DEFAULT_LATENT_BATCH if latent_batch is None else latent_batch
        self.seed = checks.seed(seed, optional=False)
        self._codes = None
        self._labels = None

    def _generator(self):
        network = sampling_network(self.model)
        if network is not self.model:
            return network
        raise ValueError(
            "SampleGrid needs a model with a sampling_generator, generator or decoder "
            f"attribute, got {type(self.model).__name__}"
        )

    def on_train_begin(self, logs=None):
        code_shape = tuple(int(d) for d in self._generator().inputs[0].shape[1:])
        if isinstance(self.latent_batch, np.ndarray):
            if self.latent_batch.shape[1:] != code_shape:
                raise ValueError(
                    f"latent_batch holds codes of shape {self.latent_batch.shape[1:]} but the "
                    f"generator takes {code_shape}"
                )
            self._codes = tf.constant(self.latent_batch, tf.float32)
        else:
            shape = [int(self.latent_batch), *code_shape]
            self._codes = tf.random.stateless_normal(shape, seed=[self.seed, 0])
        num_classes = getattr(self.model, "num_classes", None)
        if num_classes:
            # One row per class, every row the same codes.
            per_row = -(-int(self._codes.shape[0]) // num_classes)
            codes = self._codes[:per_row]
            self._codes = tf.tile(codes, [num_classes] + [1] * (codes.shape.rank - 1))
            self._labels = tf.repeat(tf.range(num_classes, dtype=tf.int32), per_row)
            self.columns = per_row
        super().on_train_begin(logs)

    def images(self):
        """The images of the fixed codes now, float32 in [0, 1], (n, H, W, C)."""
        if self._codes is None:
            raise ValueError("SampleGrid.images() is available once training has begun")
        inputs = self._codes if self._labels is None else [self._codes, self._labels]
        return _to_unit_numpy(self._generator()(inputs, training=False))


class ReconstructionGrid(_EpochGrid):
    """Writes, every few epochs, a fixed batch of images with their corruption and restoration.

    The grid has three rows: the clean images, the model's input (the images corrupted by the
    model's `corruption` with a fixed seed; the clean images again without one) and the
    model's reconstruction of that input, `model(corrupted)`. Files and TensorBoard logging
    as for `SampleGrid`: `output_dir/samples/epoch_NNN.png`.

    Args:
        output_dir: Run directory; grids go to its `samples` sub-directory.
        images: The fixed batch, (n, H, W, C) in [-1, 1] (the range the model trains on).
        every_n_epochs: Write a grid when the epoch number is a multiple of this.
        seed: Seed of the corruption.
        tensorboard_dir: Optional TensorBoard log directory, as for `SampleGrid`.
    """

    def __init__(self, output_dir, images, every_n_epochs=1, seed=0, tensorboard_dir=None):
        images = np.asarray(images, dtype=np.float32)
        if images.ndim != 4 or images.shape[0] < 1:
            raise ValueError(f"images must be an array (n, H, W, C), got shape {images.shape}")
        if not np.all(np.isfinite(images)) or images.min() < -1.001 or images.max() > 1.001:
            raise ValueError("images must be finite and lie in [-1, 1], the models' range")
        super().__init__(output_dir, every_n_epochs, tensorboard_dir, columns=images.shape[0])
        self.clean = images
        self.seed = checks.seed(seed, optional=False)
        self._corrupted = None

    def title(self, epoch):
        return f"epoch {epoch}: clean / input / reconstruction"

    def on_train_begin(self, logs=None):
        corruption = getattr(self.model, "corruption", None)
        clean = tf.constant(self.clean)
        self._corrupted = clean if corruption is None else corruption(clean, self.seed)
        super().on_train_begin(logs)

    def images(self):
        """Clean, corrupted and reconstructed images, (3 n, H, W, C) in [0, 1]."""
        if self._corrupted is None:
            raise ValueError("ReconstructionGrid.images() is available once training has begun")
        restored = self.model(self._corrupted, training=False)
        rows = [self.clean, self._corrupted, restored]
        return np.concatenate([_to_unit_numpy(row) for row in rows])


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
    """`model.save(path)` through a temporary file in the same directory and `os.replace`."""
    path = os.path.abspath(os.fspath(path))
    directory, name = os.path.split(path)
    os.makedirs(directory, exist_ok=True)
    descriptor, staging = tempfile.mkstemp(prefix=f".{name}.", suffix=".keras", dir=directory)
    os.close(descriptor)
    try:
        model.save(staging, overwrite=True)
        os.replace(staging, path)
    finally:
        if os.path.exists(staging):
            os.remove(staging)
    return path


#: Files of a `StepBackup` in its directory: the latest state and the one before it.
BACKUP_FILES = ("state.npz", "previous.npz")


def training_variables(model):
    """Every variable `fit` changes: the model's (weights, moving averages, EMA networks, step
    counters) and those of each optimizer it holds (slots, iteration counters, learning rate)."""
    variables, seen = [], set()
    for variable in [*model.variables, *_model_variables(model)]:
        if id(variable) not in seen:
            seen.add(id(variable))
            variables.append(variable)
    return variables


def metric_variables(model):
    """The variables of the metrics `fit` logs (`model.metrics`): the running sums and counts
    of the epoch so far, which Keras resets at each epoch's start."""
    variables, seen = [], set()
    for metric in getattr(model, "metrics", None) or []:
        for variable in metric.variables:
            if id(variable) not in seen:
                seen.add(id(variable))
                variables.append(variable)
    return variables


def _digest(names, arrays):
    digest = hashlib.sha256()
    for name, array in zip(names, arrays):
        digest.update(name.encode())
        digest.update(str(array.dtype).encode() + str(array.shape).encode())
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def _read_state(path):
    """(metadata, arrays, metric arrays) of a backup file; ValueError saying why when it is not
    intact. A backup written before metrics were backed up has no metric arrays."""
    try:
        with np.load(path, allow_pickle=False) as file:
            metadata = json.loads(str(file["metadata"]))
            arrays = [file[f"v{i}"] for i in range(len(metadata["names"]))]
            metric_names = metadata.get("metric_names", [])
            metrics = [file[f"m{i}"] for i in range(len(metric_names))]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
        raise ValueError(
            f"{path} is truncated or corrupt ({type(error).__name__}: {error})"
        ) from error
    if _digest(metadata["names"] + metric_names, arrays + metrics) != metadata["sha256"]:
        raise ValueError(f"{path} is corrupt: its contents do not match their SHA-256 checksum")
    return metadata, arrays, metrics


class StepBackup(keras.callbacks.Callback):
    """Backs up the whole training state every few steps and at each epoch end, atomically.

    Put it after the callbacks that write the epoch's history, so that a backup at an epoch end
    never runs ahead of the history (a kill between the two makes the resumed run train the
    epoch's last steps again and write its row then).

    The state is every variable of `training_variables(model)`, the number of training steps
    done and the metrics of the epoch so far (`metric_variables`); `restore` puts it back, so
    training continued from it takes the same steps as an uninterrupted run (given the same
    data stream from that step on: `tfgen.runs.Run.fit` skips the batches already consumed),
    and an epoch resumed inside logs the metrics of all its steps (`Run.fit` puts the restored
    metrics back after Keras resets them at the epoch's start). Each backup is written to a
    temporary file, flushed to disk and renamed to `state.npz`; the backup before it is kept
    as `previous.npz`. A file that is truncated or whose SHA-256 checksum does not match is
    never loaded: `restore` warns and falls back to the previous backup. A state holding NaN
    or infinite values is not backed up. Only the chief worker writes (`is_chief`).

    Args:
        backup_dir: Directory of the backup files.
        every_n_steps: Back up after every this many steps too; None: at epoch ends only.
        initial_step: Steps already done when training starts (from `restore`).

    Attributes:
        step: Training steps done so far.
    """

    def __init__(self, backup_dir, every_n_steps=None, initial_step=0):
        super().__init__()
        if every_n_steps is not None:
            every_n_steps = checks.positive_int(every_n_steps, "every_n_steps")
        self.backup_dir = os.path.abspath(os.fspath(backup_dir))
        self.every_n_steps = every_n_steps
        self.step = int(initial_step)
        self._saved_step = self.step

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        # An epoch's last step is backed up at the epoch end, after the history has its row.
        last_of_epoch = batch + 1 == (self.params or {}).get("steps")
        if self.every_n_steps and self.step % self.every_n_steps == 0 and not last_of_epoch:
            self.save()

    def on_epoch_end(self, epoch, logs=None):
        if self.step != self._saved_step:
            self.save()

    def save(self):
        """Writes the state now (unless it is not finite); returns whether it did."""
        variables = training_variables(self.model)
        names = [getattr(v, "path", None) or v.name for v in variables]
        arrays = [np.asarray(keras.ops.convert_to_numpy(v)) for v in variables]
        # Read on every worker: under a multi-worker strategy reading a metric's variables
        # sums them across the workers, a collective that all of them must join.
        metrics = metric_variables(self.model)
        metric_names = [getattr(v, "path", None) or v.name for v in metrics]
        metric_arrays = [np.asarray(keras.ops.convert_to_numpy(v)) for v in metrics]
        for name, array in zip(names, arrays):
            if array.dtype.kind == "f" and not np.all(np.isfinite(array)):
                warnings.warn(
                    f"Step {self.step}: {name} is not finite; not backing up, "
                    f"{self.backup_dir} keeps the last good state.",
                    RuntimeWarning,
                    stacklevel=2,
                )
                return False
        self._saved_step = self.step
        if not is_chief():
            return False
        digest = _digest(names + metric_names, arrays + metric_arrays)
        metadata = dict(step=self.step, names=names, metric_names=metric_names, sha256=digest)
        os.makedirs(self.backup_dir, exist_ok=True)
        latest, previous = (os.path.join(self.backup_dir, name) for name in BACKUP_FILES)
        descriptor, staging = tempfile.mkstemp(prefix=".state.", suffix=".npz", dir=self.backup_dir)
        try:
            with os.fdopen(descriptor, "wb") as file:
                np.savez(
                    file,
                    metadata=np.asarray(json.dumps(metadata)),
                    **{f"v{i}": array for i, array in enumerate(arrays)},
                    **{f"m{i}": array for i, array in enumerate(metric_arrays)},
                )
                file.flush()
                os.fsync(file.fileno())
            if os.path.exists(latest):
                os.replace(latest, previous)
            os.replace(staging, latest)
        finally:
            if os.path.exists(staging):
                os.remove(staging)
        return True

    @staticmethod
    def restore(backup_dir, model):
        """Loads the latest intact backup into `model`; returns its step count (None: none).

        The metrics' state is restored too when the backup holds that of the same metrics.

        Raises:
            ValueError: backup files exist but none is intact, or they hold another model's
                variables (other names or shapes).
        """
        paths = [os.path.join(os.fspath(backup_dir), name) for name in BACKUP_FILES]
        paths = [path for path in paths if os.path.exists(path)]
        if not paths:
            return None
        problems = []
        for path in paths:
            try:
                metadata, arrays, metric_arrays = _read_state(path)
            except ValueError as error:
                problems.append(str(error))
                warnings.warn(f"{error}; trying the backup before it.", RuntimeWarning, 2)
                continue
            # Names carry per-process suffixes (adam_1/...); the shapes in order must match.
            variables = training_variables(model)
            shapes = [tuple(v.shape) for v in variables]
            if shapes != [a.shape for a in arrays]:
                raise ValueError(
                    f"{path} holds the state of another model ({len(arrays)} variables, this "
                    f"model has {len(variables)} or other shapes): resume with the same "
                    "settings, or pass --overwrite"
                )
            for variable, array in zip(variables, arrays):
                variable.assign(array)
            metrics = metric_variables(model)
            if [tuple(v.shape) for v in metrics] == [a.shape for a in metric_arrays]:
                for variable, array in zip(metrics, metric_arrays):
                    variable.assign(array)
            return int(metadata["step"])
        raise ValueError(
            f"No intact backup to resume from in {backup_dir}: {'; '.join(problems)}. Pass "
            "--overwrite to start afresh (checkpoint.keras holds the last good model)."
        )


class EvaluateGenerator(keras.callbacks.Callback):
    """Scores the generator with `tfgen.metrics` during `fit`, into the logs of the epoch.

    At the end of the first epoch of each `fit` call (so that `CSVLogger` learns the columns),
    of every `every_n_epochs`-th epoch and of the last one, it generates `num_samples` images
    from fixed latent codes with the model's sampling network (a GAN's moving-average generator
    when it has one), feeds them with up to as many real images to each metric, and adds the
    results to the epoch's logs (`fid`, `kid`, `kid_std`, `precision`, `recall`, `swd`, ...).
    Callbacks after it in the list see them: `History` (the returned history), `CSVLogger`
    ("NA" on epochs without evaluation), Keras' `TensorBoard` and thus tfgen's loss plot. With
    `tensorboard_dir` it also writes them itself, run "evaluation", step = epoch, each under
    its group of `tfgen.plot.metric_group` ("fid/fid", "fid/fid_floor", "precision and
    recall/recall").

    With `floor=True` every score comes with its floor, `<key>_floor`: the same metric of real
    images against real images at the same sample counts (`num_samples` against
    `num_samples`), the best a generator can score there; FID in particular is biased upwards
    by few samples. The first `num_samples` real images are then the reference of every
    evaluation and the next `num_samples` the floor's, computed once (so `real` must hold
    `2 * num_samples` images, else a `ValueError` at the first evaluation).

    Args:
        metrics: `tfgen.metrics` metrics (or any with `update_state(real, generated)`,
            `reset_state` and `result`), e.g. `tfgen.metrics.default_metrics()`.
        real: Real images in [-1, 1], an array (n, H, W, C) or a dataset of batches; None when
            every metric has reference statistics.
        every_n_epochs: Evaluate when the epoch number (from 1) is a multiple of this.
        num_samples: Generated images per evaluation, and the most real images used.
        batch_size: Images per generator call.
        seed: Seed of the latent codes, the same at every evaluation.
        tensorboard_dir: Optional TensorBoard log directory (needs the `tensorboard` package).
        floor: Also log each score's floor, real against real (see above).

    Attributes:
        evaluated: (epoch, {key: value}) of every evaluation so far.
        floor_results: {key: value} of real against real, after the first evaluation with
            `floor=True`; None otherwise.
    """

    def __init__(
        self,
        metrics,
        real,
        every_n_epochs=1,
        num_samples=1000,
        batch_size=250,
        seed=0,
        tensorboard_dir=None,
        floor=False,
    ):
        super().__init__()
        self.metrics = list(metrics)
        if not self.metrics:
            raise ValueError("metrics must be a non-empty list of metrics")
        self.real = real
        self.every_n_epochs = checks.positive_int(every_n_epochs, "every_n_epochs")
        if isinstance(num_samples, bool) or not isinstance(num_samples, numbers.Integral):
            raise ValueError(f"num_samples must be an int >= 2, got {num_samples!r}")
        if num_samples < 2:
            raise ValueError(f"num_samples must be an int >= 2, got {num_samples!r}")
        self.num_samples, self.batch_size = int(num_samples), batch_size
        self.seed = checks.seed(seed, optional=False)
        self.tensorboard_dir = tensorboard_dir
        self.floor = checks.boolean(floor, "floor")
        if self.floor and real is None:
            raise ValueError("floor=True needs real images (real against real), got real=None")
        self.floor_results = None
        self._reference = real
        self.evaluated = []
        self._writer = None
        self._first_epoch = True

    def on_train_begin(self, logs=None):
        self._first_epoch = True
        if self.tensorboard_dir is not None and is_chief() and tensorboard_available():
            self._writer = tf.summary.create_file_writer(
                os.path.join(os.fspath(self.tensorboard_dir), "evaluation")
            )

    def on_epoch_end(self, epoch, logs=None):
        last = (self.params or {}).get("epochs")
        due = self._first_epoch or (epoch + 1) % self.every_n_epochs == 0 or epoch + 1 == last
        self._first_epoch = False
        if not due:
            return
        results = self.evaluate()
        self.evaluated.append((epoch + 1, results))
        if logs is not None:
            logs.update(results)
        if self._writer is not None:
            from tfgen.plot import metric_group

            with self._writer.as_default():
                for key, value in results.items():
                    tf.summary.scalar(f"{metric_group(key)}/{key}", value, step=epoch + 1)
            self._writer.flush()

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def evaluate(self):
        """Scores the model's sampling network now; returns {key: float}, floors beside."""
        from tfgen.metrics import evaluation

        if self.floor and self.floor_results is None:
            self._reference, others = evaluation.split_real(self.real, self.num_samples)
            self.floor_results = evaluation.real_floor(
                self.metrics, self._reference, others, self.batch_size
            )
        results = evaluation.score(
            self.metrics, self.model, self._reference, self.num_samples, self.batch_size, self.seed
        )
        if self.floor_results is None:
            return results
        return evaluation.with_floors(results, self.floor_results)
