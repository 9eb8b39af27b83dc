"""One training run's output folder: its rules, its files, `fit` with resume, and finish."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile

import keras
import numpy as np
import tensorflow as tf

from tfgen import _checks as checks
from tfgen import _files, plot
from tfgen import callbacks as tfgen_callbacks
from tfgen._checks import positive_int
from tfgen.runs.history import read_history, tensorboard_callbacks
from tfgen.runs.inputs import batches_per_epoch
from tfgen.runs.settings import DEFAULT_BACKUP_EVERY

#: Files and folders of a run in its output folder; overwrite removes exactly these (and the
#: final model).
ARTEFACTS = (
    "samples",
    "logs",
    "backup",
    "losses.png",
    "history.csv",
    "checkpoint.keras",
    "saved_model",
    "config.json",
)


#: Most epochs of a run: more would never finish (a run of a million one-step epochs already
#: takes days).
MAX_EPOCHS = 1_000_000


def check_output_dir(output_dir):
    """The absolute `output_dir`, or a ValueError when it (or a parent) is a file.

    Scripts call it before their work, so that nothing made is lost for want of a folder.
    """
    return checks.directory_path(output_dir, "output_dir")


@dataclasses.dataclass
class RunResult:
    """The trained model, where the run put its outputs, and its metrics per epoch (over the
    whole run, resumed or not); `initial_epoch` is the epoch a resumed run started from."""

    model: object
    output_dir: str
    history: dict
    samples_dir: str
    losses_plot: str
    model_path: str
    checkpoint_path: str
    saved_model_dir: str
    logs_dir: str
    initial_epoch: int


class _ContinueMetrics(keras.callbacks.Callback):
    """Gives the metrics their values of now back at the next epoch's start.

    Keras resets the metrics when an epoch begins; an epoch resumed inside continues the sums
    and counts of the steps the interrupted run took (restored from its backup), so its
    history row averages all of the epoch's steps, as an uninterrupted run's does.
    """

    def __init__(self, model):
        super().__init__()
        variables = tfgen_callbacks.metric_variables(model)
        self._values = [np.asarray(keras.ops.convert_to_numpy(v)) for v in variables]

    def on_epoch_begin(self, epoch, logs=None):
        with self.model.distribute_strategy.scope():
            for variable, value in zip(tfgen_callbacks.metric_variables(self.model), self._values):
                variable.assign(value)


def _settings_dict(settings):
    if dataclasses.is_dataclass(settings):
        return dataclasses.asdict(settings)
    return dict(settings)


class Run:
    """One training run's output folder: its rules, its files and the callbacks that write them.

    Nothing is written before `prepare` (which `fit` calls), so a script builds and compiles its
    model first and a bad setting fails before the folder is touched. Under a multi-worker
    strategy only the chief worker touches the folder; the other workers write their copies
    to a temporary folder they remove (TensorFlow's multi-worker pattern) and read the chief's
    backup to resume.

    Args:
        output_dir: The folder of the run.
        settings: The run's settings (a dataclass or a dict), written to config.json.
        final_model: File name of the final model, e.g. "gan.keras".
        resume: Continue the interrupted run in `output_dir` from its backup.
        overwrite: Delete the run in `output_dir` (its files listed in `ARTEFACTS` and
            `final_model`, nothing else) and start afresh.
        resume_keys: Settings that must equal the interrupted run's for `resume`.
        backup_every: Steps between backups of the training state (`StepBackup`), which is
            also backed up at each epoch end; a resumed run loses at most these steps' work.
    """

    def __init__(
        self,
        output_dir,
        settings,
        final_model,
        resume=False,
        overwrite=False,
        resume_keys=(),
        backup_every=DEFAULT_BACKUP_EVERY,
    ):
        checks.directory_path(output_dir, "output_dir")
        if not isinstance(final_model, str) or not final_model.endswith(".keras"):
            raise ValueError(
                f"final_model must be a file name ending in .keras, got {final_model!r}"
            )
        if resume and overwrite:
            raise ValueError("resume and overwrite exclude each other: pass one of them")
        self.output_dir = os.path.abspath(os.fspath(output_dir))
        self.settings = _settings_dict(settings)
        self.final_model = final_model
        self.resume = bool(resume)
        self.overwrite = bool(overwrite)
        self.resume_keys = tuple(resume_keys)
        self.backup_every = positive_int(backup_every, "backup_every", checks.MAX_STEPS)
        self.initial_epoch = 0
        self._worker_dir = None

    @classmethod
    def from_settings(cls, settings, final_model, resume_keys=()):
        """A `Run` in `settings.output_dir`, with its resume, overwrite and backup settings."""
        values = _settings_dict(settings)
        return cls(
            values["output_dir"],
            values,
            final_model,
            resume=values.get("resume", False),
            overwrite=values.get("overwrite", False),
            resume_keys=resume_keys,
            backup_every=values.get("backup_every", DEFAULT_BACKUP_EVERY),
        )

    def path(self, name):
        """The path of `name` (one of `ARTEFACTS` or the final model) in the run's folder."""
        return os.path.join(self.output_dir, name)

    def _write_path(self, name):
        """Where this worker writes `name`: the run's folder on the chief, else a temporary one."""
        if tfgen_callbacks.is_chief():
            return self.path(name)
        if self._worker_dir is None:
            self._worker_dir = tempfile.mkdtemp(prefix="tfgen-worker-")
        return os.path.join(self._worker_dir, name)

    def _present(self):
        return [name for name in (*ARTEFACTS, self.final_model) if os.path.exists(self.path(name))]

    def prepare(self):
        """Applies the folder rules, clears the folder for `overwrite`, writes config.json.

        Temporary files that a killed run's atomic writes left behind (`save_atomically`, the
        export, the backup, the sample grids) are removed.

        Only the chief worker does this; the others leave the folder alone.

        Raises:
            ValueError: the folder holds another run and neither resume nor overwrite was
                given, resume was given for a finished run, or a setting in `resume_keys`
                differs from the interrupted run's.
        """
        if not tfgen_callbacks.is_chief():
            return
        present = self._present()
        if present and self.overwrite:
            for name in present:
                path = self.path(name)
                shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)
        elif present and not self.resume:
            raise ValueError(
                f"output_dir {self.output_dir} holds another run ({', '.join(present)}): pass "
                "--resume to continue it, --overwrite to replace it, or choose another "
                "--output_dir"
            )
        elif self.resume and present and not os.path.isdir(self.path("backup")):
            if self.final_model in present:
                raise ValueError(
                    f"--resume: the run in output_dir {self.output_dir} finished "
                    f"({self.final_model}; a finished run deletes its backup/): pass "
                    "--overwrite to train afresh"
                )
            print("--resume: no backup of the earlier run was written; starting afresh.")
        elif self.resume and present:
            self._check_resumable()
        os.makedirs(self.output_dir, exist_ok=True)
        # What killed atomic writes left (`_files.STAGING_PATTERN`) in the folders they write.
        for folder in (self.output_dir, self.path("backup"), self.path("samples")):
            _files.remove_leftovers(folder)
        with _files.replaced_atomically(self.path("config.json")) as staging:
            with open(staging, "w") as file:
                json.dump(self.settings, file, indent=2)

    def _check_resumable(self):
        saved = {}
        if os.path.exists(self.path("config.json")):
            with open(self.path("config.json")) as file:
                saved = json.load(file)
        changed = [
            f"{key}={saved[key]!r} -> {self.settings[key]!r}"
            for key in self.resume_keys
            if key in saved and key in self.settings and saved[key] != self.settings[key]
        ]
        if changed:
            raise ValueError(
                f"--resume: these settings differ from the interrupted run in "
                f"{self.output_dir}: {'; '.join(changed)}. Resume with the same settings, or "
                "pass --overwrite."
            )

    def callbacks(self, terminate, backup, evaluation=()):
        """The callbacks that keep the run's files: backup, history, checkpoint, TensorBoard.

        `evaluation` callbacks add to the epoch's logs, so they run before history and
        TensorBoard write them; the backup comes last, once the epoch's row is written.
        """
        return [
            terminate,
            *evaluation,
            keras.callbacks.CSVLogger(self._write_path("history.csv"), append=True),
            tfgen_callbacks.SafeCheckpoint(self._write_path("checkpoint.keras")),
            *tensorboard_callbacks(self._write_path("logs")),
            backup,
        ]

    def fit(
        self,
        model,
        data,
        epochs,
        steps_per_epoch=None,
        validation_data=None,
        callbacks=(),
        export=None,
        title="training",
        verbose="auto",
        evaluation=(),
    ):
        """Prepares the folder, trains with `model.fit` and the run's callbacks, and finishes.

        Training reads `data.repeat()` as one stream of `steps_per_epoch` batches an epoch. A
        resumed run restores the backed-up state (`StepBackup.restore`), skips the batches the
        interrupted run consumed and trains the rest of the interrupted epoch, then the
        remaining epochs, taking exactly the batches of an uninterrupted run when the stream is
        reproducible (a seeded `tfgen.data.load`).

        The rest of an interrupted epoch and the later epochs are two `model.fit` calls, so
        they read two iterators. All iterators of one shuffling `tf.data.Dataset` share its
        shuffle's seed generator: the second iterator reshuffles differently from the first.
        Pass `data` as a function that builds the dataset, and each call reads the first
        iterator of a fresh dataset, the stream of an uninterrupted run.

        Args:
            model: A compiled Keras model (a `GAN`, an `Autoencoder`, ...).
            data: The training dataset (finite or repeated), or a function of no arguments
                that builds it (needed for an exact resume from inside an epoch).
            epochs: Epochs of the whole run (a resumed run trains the missing ones).
            steps_per_epoch: Batches per epoch; None for one pass over `data` (which must
                then be finite).
            validation_data: Optional data evaluated after each epoch.
            callbacks: The script's own callbacks (sample grids, ...), run after the run's.
            export: `fn(model, path)` writing the SavedModel export (e.g.
                `tfgen.export.export_generator`), or None for no export.
            title: Title of the loss plot.
            verbose: Keras' progress display.
            evaluation: Callbacks that add scores to the epoch's logs (e.g.
                `tfgen.callbacks.EvaluateGenerator`); they run before the history is written.

        Returns:
            A `RunResult`.

        Raises:
            ValueError: a bad `epochs` or `steps_per_epoch`, the folder rules of `prepare`,
                or a backup that cannot be restored.
            RuntimeError: training diverged (a metric became NaN or infinite); checkpoint.keras
                keeps the last good model.
        """
        positive_int(epochs, "epochs", MAX_EPOCHS)
        make_data = data if callable(data) else lambda: data
        data = make_data()
        steps = batches_per_epoch(data, steps_per_epoch)
        self.prepare()
        try:
            done = self._restore(model) if self.resume else 0
            self.initial_epoch, offset = divmod(min(done, epochs * steps), steps)
            backup = tfgen_callbacks.StepBackup(
                self._write_path("backup"), self.backup_every, initial_step=done
            )
            terminate = tfgen_callbacks.TerminateOnNaN()
            run_callbacks = [*self.callbacks(terminate, backup, evaluation), *callbacks]
            epoch, history = self.initial_epoch, {}
            # The interrupted epoch's metrics so far, put back once Keras has reset them.
            continued = [_ContinueMetrics(model)] if offset else []
            while epoch < epochs and terminate.stopped is None:
                # The rest of an interrupted epoch alone, then the whole epochs.
                last = epoch + 1 if offset else epochs
                fitted = model.fit(
                    data.repeat().skip(epoch * steps + offset),
                    initial_epoch=epoch,
                    epochs=last,
                    steps_per_epoch=steps - offset,
                    validation_data=validation_data,
                    callbacks=[*continued, *run_callbacks],
                    shuffle=False,  # Datasets are shuffled by their pipeline.
                    verbose=verbose,
                )
                for key, values in fitted.history.items():
                    history.setdefault(key, []).extend(values)
                if last < epochs:
                    data = make_data()
                epoch, offset, continued = last, 0, []
            return self.finish(model, history, terminate, export, title)
        finally:
            if self._worker_dir is not None:
                shutil.rmtree(self._worker_dir, ignore_errors=True)
                self._worker_dir = None

    def _restore(self, model):
        """Restores the backup of the interrupted run into `model`; returns its step count."""
        strategy = getattr(model, "distribute_strategy", None) or tf.distribute.get_strategy()
        optimizer = getattr(model, "optimizer", None)
        if optimizer is not None and not optimizer.built:
            with strategy.scope():
                optimizer.build(model.trainable_variables)
        with strategy.scope():
            done = tfgen_callbacks.StepBackup.restore(self.path("backup"), model)
        return done or 0

    def finish(self, model, fit_history, terminate, export=None, title="training"):
        """Plots the losses, saves and exports the model (unless it diverged), deletes the
        backup of a completed run and prints the paths."""
        history = read_history(self._write_path("history.csv")) or dict(fit_history)
        chief = tfgen_callbacks.is_chief()
        if history and chief:
            plot.loss_curves(history, self.path("losses.png"), title=title)
        if terminate.stopped is not None:
            raise RuntimeError(
                f"{terminate.message} {self.path('checkpoint.keras')} holds the model of the "
                "last epoch whose values were all finite."
            )
        # Every worker saves (saving may need all of them), only the chief into the folder.
        tfgen_callbacks.save_atomically(model, self._write_path(self.final_model))
        if export is not None:
            export(model, self._write_path("saved_model"))
        if chief:
            shutil.rmtree(self.path("backup"), ignore_errors=True)
            self._print_outputs(export is not None)
        return RunResult(
            model=model,
            output_dir=self.output_dir,
            history=history,
            samples_dir=self.path("samples"),
            losses_plot=self.path("losses.png"),
            model_path=self.path(self.final_model),
            checkpoint_path=self.path("checkpoint.keras"),
            saved_model_dir=self.path("saved_model"),
            logs_dir=self.path("logs"),
            initial_epoch=self.initial_epoch,
        )

    def _print_outputs(self, exported):
        lines = [("sample grids", self.path("samples")), ("loss curves", self.path("losses.png"))]
        if tfgen_callbacks.tensorboard_available():
            lines.append(("TensorBoard", f"tensorboard --logdir {self.path('logs')}"))
        lines.append(("model", f"{self.path(self.final_model)}  (keras.saving.load_model)"))
        if exported:
            lines.append(("SavedModel", f"{self.path('saved_model')}  (tf.saved_model.load)"))
        lines.append(("checkpoint", self.path("checkpoint.keras")))
        width = max(len(label) for label, _ in lines)
        print(f"\nTraining finished. Outputs in {self.output_dir}:")
        for label, path in lines:
            print(f"  {label.ljust(width)}  {path}", flush=True)
