"""Run management for training scripts: settings and flags, the output folder, resume, finish.

A training run keeps everything in one output folder:

    samples/epoch_NNN.png   sample grids (SampleGrid or ReconstructionGrid)
    losses.png              the metrics per epoch, from history.csv
    history.csv             the metrics per epoch (keras.callbacks.CSVLogger)
    logs/                   TensorBoard scalars and sample images
    checkpoint.keras        the model after the last epoch whose values were all finite
    backup/                 the state a resumed run restarts from (deleted when the run finishes)
    <final model>.keras     the final model (keras.saving.load_model, safe_mode works)
    saved_model/            the TensorFlow SavedModel export
    config.json             the settings of the run

A folder holding another run is used only to resume it (the settings that shape the model or
the data must match its config.json) or to overwrite it (which deletes exactly the files above).

    run = runs.Run(output_dir, settings, final_model="gan.keras", resume_keys=("latent_dim",))
    ...build and compile the model (bad settings fail here, before the folder is touched)...
    result = run.fit(gan, dataset, epochs=20, callbacks=[grid], export=export.export_generator)

Settings are dataclass fields made with `setting(default, help)`; `define_flags` turns them
into absl flags and `config_from_flags` back into the dataclass, so each is written once.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import json
import math
import numbers
import os
import shutil
import sys
import tempfile

import keras
import numpy as np
import tensorflow as tf
from absl import app, flags
from absl import logging as absl_logging

from tfgen import _checks as checks
from tfgen import callbacks as tfgen_callbacks
from tfgen import optimizers, plot
from tfgen._checks import positive_int

__all__ = [
    "absl_main",
    "STRATEGIES",
    "Run",
    "RunResult",
    "batches_per_epoch",
    "TrainingSettings",
    "config_from_flags",
    "define_flags",
    "dtype_policy",
    "first_images",
    "held_out_split",
    "jit_setting",
    "make_optimizer",
    "make_strategy",
    "optimizer_names",
    "quiet",
    "read_history",
    "set_random_seed",
    "setting",
]

#: Names `make_strategy` accepts.
STRATEGIES = ("default", "mirrored", "multi_worker", "tpu")
#: Values of the jit_compile setting (`jit_setting`).
JIT_CHOICES = ("auto", "true", "false")
#: The optimizers of tfgen, by name; `make_optimizer` takes these and Keras' optimizer names.
TFGEN_OPTIMIZERS = ("nesterov", "adam", "conjugate_gradient")
#: Keras optimizer classes that cannot be built from a learning rate alone.
_KERAS_OPTIMIZER_EXCLUDED = ("optimizer", "lossscaleoptimizer", "multioptimizer", "optimizermap")
#: Steps between backups of the training state (`Run`); each epoch end is backed up too.
DEFAULT_BACKUP_EVERY = 100
#: Radford et al. 2015 (DCGAN): Adam's beta_1 = 0.5 keeps GAN training stable.
GAN_ADAM_BETA_1 = 0.5

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


def quiet():
    """Keeps a script's output to Keras' progress and its own prints.

    Hides TensorFlow's and absl's INFO and WARNING lines. TensorFlow's C++ logging reads
    TF_CPP_MIN_LOG_LEVEL once, when TensorFlow is imported, so a script sets that variable
    before its first `import tfgen` too (this sets it for the processes it starts), and tfgen
    then keeps TensorFlow's import-time lines from stderr.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    absl_logging.set_verbosity(absl_logging.ERROR)
    tf.get_logger().setLevel("ERROR")
    tf.autograph.set_verbosity(0)


def set_random_seed(seed, deterministic=False):
    """Seeds Python, NumPy, TensorFlow and Keras; `deterministic` also makes ops deterministic.

    With `deterministic=True`, `tf.config.experimental.enable_op_determinism()` makes every op
    give the same result on every run (ops without a deterministic kernel then raise), so two
    runs with the same seed on the same machine end with bit-identical weights.
    """
    keras.utils.set_random_seed(checks.seed(seed, optional=False))
    if deterministic:
        tf.config.experimental.enable_op_determinism()


# --------------------------------------------------------------------------------------------
# Settings: dataclass fields that are also absl flags.


def setting(default, help, *, choices=None, kind=None):
    """A dataclass field that `define_flags` turns into a flag of the same name.

    Args:
        default: The default value (None for "unset").
        help: The flag's help text.
        choices: Allowed strings: an enum flag listing them in --help.
        kind: `int`, `float`, `bool` or `str`; needed only when `default` is None.
    """
    kind = kind or type(default)
    if kind not in (int, float, bool, str):
        raise ValueError(f"kind must be int, float, bool or str, got {kind!r}")
    metadata = {"help": help, "choices": tuple(choices) if choices else None, "kind": kind}
    return dataclasses.field(default=default, metadata=metadata)


def _flag_metadata(config_class, name):
    """The `setting` metadata of field `name` in `config_class` or the nearest base, or None."""
    for klass in config_class.__mro__:
        field = getattr(klass, "__dataclass_fields__", {}).get(name)
        if field is not None and "help" in field.metadata:
            return field.metadata
    return None


def define_flags(config_class, flag_values=flags.FLAGS, module_name=None):
    """Defines one absl flag per `setting` field of `config_class`, with its default.

    A field redeclared in a subclass with a plain default keeps the help of its base class.
    """
    defaults = config_class()
    define = {
        int: flags.DEFINE_integer,
        float: flags.DEFINE_float,
        bool: flags.DEFINE_bool,
        str: flags.DEFINE_string,
    }
    for field in dataclasses.fields(config_class):
        metadata = _flag_metadata(config_class, field.name)
        if metadata is None:
            continue
        value = getattr(defaults, field.name)
        extra = dict(flag_values=flag_values, module_name=module_name)
        if metadata["choices"]:
            flags.DEFINE_enum(
                field.name, value, list(metadata["choices"]), metadata["help"], **extra
            )
        else:
            define[metadata["kind"]](field.name, value, metadata["help"], **extra)


def absl_main(run, config_class, errors=(ValueError, RuntimeError)):
    """An absl `main(argv)` calling `run(config)` with the `config_class` of the parsed flags.

    It quiets TensorFlow (`quiet`), rejects positional arguments, and turns the `errors`
    raised by `run` into a one-line message on stderr and exit status 1.
    """

    def main(argv):
        if len(argv) > 1:
            raise app.UsageError(f"Unexpected arguments: {' '.join(argv[1:])}")
        quiet()
        try:
            run(config_from_flags(flags.FLAGS, config_class))
        except errors as error:
            print(f"error: {error}", file=sys.stderr, flush=True)
            return 1
        return 0

    return main


def config_from_flags(flag_values, config_class):
    """A `config_class` from parsed flags; fields without a flag keep their defaults."""
    values = {
        field.name: flag_values[field.name].value
        for field in dataclasses.fields(config_class)
        if field.name in flag_values and _flag_metadata(config_class, field.name)
    }
    return config_class(**values)


@dataclasses.dataclass
class TrainingSettings:
    """Settings every training script shares; scripts subclass it and may redeclare defaults."""

    dataset: str = setting(
        "digits",
        "Images to train on: 'digits' or 'photos' (bundled, no download), a "
        "tensorflow-datasets name such as 'mnist' or 'cifar10', or 'folder:/path/to/images'.",
    )
    image_size: int = setting(16, "Side of the square images, a power of two from 8.")
    channels: int | None = setting(None, "1 (grey) or 3 (RGB); default the dataset's.", kind=int)
    batch_size: int = setting(32, "Images per batch, over all replicas.")
    epochs: int = setting(40, "Training epochs.")
    steps: int | None = setting(
        None,
        "Steps (batches) per epoch; default one pass over the data. With it the data repeats.",
        kind=int,
    )
    latent_dim: int = setting(64, "Size of the latent code.")
    base_filters: int = setting(32, "Filters of the full-resolution convolutions.")
    mixed_precision: bool = setting(False, "Train in mixed float16.")
    jit_compile: str = setting(
        "auto", "XLA compilation; 'auto' uses it on a single GPU only.", choices=JIT_CHOICES
    )
    strategy: str = setting(
        "default",
        "Distribution: default (one device), mirrored (all local GPUs), multi_worker "
        "(machines listed in the TF_CONFIG environment variable) or tpu.",
        choices=STRATEGIES,
    )
    output_dir: str = setting("runs/gan", "Directory for all outputs of the run.")
    seed: int = setting(0, "Seed of weights, data order and random draws.")
    samples: int = setting(64, "Images in each sample grid.")
    sample_every: int = setting(1, "Epochs between sample grids.")
    resume: bool = setting(False, "Continue the interrupted run in --output_dir from its backup.")
    backup_every: int = setting(
        DEFAULT_BACKUP_EVERY,
        "Steps between backups of the training state for --resume (also at each epoch end).",
    )
    deterministic: bool = setting(
        False,
        "Deterministic ops: two runs with the same seed end with bit-identical weights (slower).",
    )
    overwrite: bool = setting(False, "Delete the run already in --output_dir and start afresh.")
    verbose: int | str = "auto"  # Keras' progress display; not a flag.


# --------------------------------------------------------------------------------------------
# Factories from names.


def optimizer_names():
    """Every name `make_optimizer` takes: tfgen's, then Keras' built-ins in lower case."""
    keras_names = {
        name.lower()
        for name in dir(keras.optimizers)
        if isinstance(getattr(keras.optimizers, name), type)
        and issubclass(getattr(keras.optimizers, name), keras.optimizers.Optimizer)
    }
    keras_names -= set(_KERAS_OPTIMIZER_EXCLUDED) | set(TFGEN_OPTIMIZERS)
    return TFGEN_OPTIMIZERS + tuple(sorted(keras_names))


def make_optimizer(name, learning_rate, gan=False, argument="optimizer"):
    """An optimizer from its name and learning rate.

    "adam" is tfgen's Adam, with beta_1 = 0.5 for GANs (Radford et al. 2015); "nesterov" and
    "conjugate_gradient" are tfgen's; any other name is a Keras optimizer made with
    `keras.optimizers.get` and this learning rate.

    Raises:
        ValueError: `name` names no optimizer (the message lists them, under `argument`), or
            the learning rate is not a finite number > 0.
    """
    valid = optimizer_names()
    if not isinstance(name, str) or name.lower() not in valid:
        raise ValueError(
            f"{argument} must be one of the tfgen optimizers {', '.join(TFGEN_OPTIMIZERS)} or a "
            f"Keras optimizer name ({', '.join(valid[len(TFGEN_OPTIMIZERS) :])}), got {name!r}"
        )
    if (
        not isinstance(learning_rate, numbers.Real)
        or isinstance(learning_rate, bool)
        or not math.isfinite(learning_rate)
        or learning_rate <= 0
    ):
        raise ValueError(
            f"learning rate of {argument} must be a finite number > 0, got {learning_rate!r}"
        )
    name = name.lower()
    if name == "adam":
        return optimizers.Adam(learning_rate, beta_1=GAN_ADAM_BETA_1 if gan else 0.9)
    if name == "nesterov":
        return optimizers.Nesterov(learning_rate)
    if name == "conjugate_gradient":
        return optimizers.ConjugateGradient(learning_rate)
    return keras.optimizers.get({"class_name": name, "config": {"learning_rate": learning_rate}})


def make_strategy(name):
    """A `tf.distribute` strategy from its name, one of `STRATEGIES`.

    "default": no distribution (one device). "mirrored": `MirroredStrategy` over all local GPUs
    (the CPU when there is none). "multi_worker": `MultiWorkerMirroredStrategy`, configured by
    the TF_CONFIG environment variable of each worker. "tpu": `TPUStrategy` on the TPU found
    by `TPUClusterResolver` (a Cloud TPU VM or the TPU named by the TPU_NAME variable).
    Create it before any other TensorFlow work: a multi-worker strategy must come first.
    """
    if name not in STRATEGIES:
        raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}, got {name!r}")
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        if "TF_CONFIG" not in os.environ:
            print("TF_CONFIG is not set: multi_worker runs as a single worker.", flush=True)
        return tf.distribute.MultiWorkerMirroredStrategy()
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
    except (ValueError, RuntimeError, tf.errors.OpError) as error:
        raise ValueError(f"strategy='tpu' found no TPU to connect to: {error}") from error
    return tf.distribute.TPUStrategy(resolver)


def jit_setting(value):
    """The `jit_compile` argument of `compile` from "auto", "true" or "false" (or a bool)."""
    text = str(value).lower()
    if text not in JIT_CHOICES:
        raise ValueError(f"jit_compile must be one of {', '.join(JIT_CHOICES)}, got {value!r}")
    return {"auto": "auto", "true": True, "false": False}[text]


@contextlib.contextmanager
def dtype_policy(mixed_precision):
    """Sets Keras' global dtype policy (mixed_float16 or float32) inside the block."""
    previous = keras.mixed_precision.dtype_policy().name
    keras.mixed_precision.set_global_policy("mixed_float16" if mixed_precision else "float32")
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


# --------------------------------------------------------------------------------------------
# Data and trained models.


def held_out_split(dataset, **load_arguments):
    """The "test" split of `dataset` in order, for validation, or None when it has none.

    `load_arguments` go to `tfgen.data.load` (image_size, channels, batch_size, ...).
    """
    from tfgen import data

    try:
        return data.load(
            dataset, split="test", shuffle=False, drop_remainder=False, **load_arguments
        )
    except (ValueError, FileNotFoundError) as error:
        print(f"No held-out split used ({error}).", flush=True)
        return None


def first_images(dataset, count):
    """The first `count` images of a batched dataset, as one NumPy array."""
    positive_int(count, "count")
    batches, total = [], 0
    for batch in dataset:
        batches.append(np.asarray(batch))
        total += len(batches[-1])
        if total >= count:
            break
    return np.concatenate(batches)[:count]


# --------------------------------------------------------------------------------------------
# History.


def read_history(path):
    """Metrics per epoch from a CSVLogger file, keeping the last row written for each epoch.

    A resumed run appends the epochs it trains again; the later row of an epoch wins. Columns
    that are empty in every row ("NA" for absent validation metrics) are dropped.
    """
    if not os.path.exists(path):
        return {}
    rows = {}
    with open(path, newline="") as file:
        for row in csv.DictReader(file):
            rows[int(row.pop("epoch"))] = row
    history = {}
    for epoch in sorted(rows):
        for key, value in rows[epoch].items():
            try:
                number = float(value)
            except (TypeError, ValueError):
                number = float("nan")
            history.setdefault(key, []).append(number)
    return {key: values for key, values in history.items() if not all(map(math.isnan, values))}


def tensorboard_callbacks(log_dir):
    """[keras.callbacks.TensorBoard(log_dir)] when the tensorboard package is installed, else []."""
    if not tfgen_callbacks.tensorboard_available():
        print(
            "The tensorboard package is not installed: no TensorBoard logs "
            "(pip install tensorboard).",
            flush=True,
        )
        return []
    return [keras.callbacks.TensorBoard(log_dir, write_graph=False, profile_batch=0)]


# --------------------------------------------------------------------------------------------
# The run's folder.


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


def batches_per_epoch(data, steps_per_epoch=None):
    """`steps_per_epoch`, checked, or the number of batches of the finite dataset `data`."""
    if steps_per_epoch is not None:
        return positive_int(steps_per_epoch, "steps")
    count = int(data.cardinality())
    if count == tf.data.INFINITE_CARDINALITY:
        raise ValueError("steps must be set for a dataset that repeats forever")
    if count == tf.data.UNKNOWN_CARDINALITY:
        count = int(data.reduce(np.int64(0), lambda total, _: total + 1))
    if count < 1:
        raise ValueError("the training data must hold at least one batch, got none")
    return count


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
        if not isinstance(output_dir, str | os.PathLike) or not os.fspath(output_dir):
            raise ValueError(f"output_dir must be a directory path, got {output_dir!r}")
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
        self.backup_every = positive_int(backup_every, "backup_every")
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
        with open(self.path("config.json"), "w") as file:
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
        positive_int(epochs, "epochs")
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
            while epoch < epochs and terminate.stopped is None:
                # The rest of an interrupted epoch alone, then the whole epochs.
                last = epoch + 1 if offset else epochs
                fitted = model.fit(
                    data.repeat().skip(epoch * steps + offset),
                    initial_epoch=epoch,
                    epochs=last,
                    steps_per_epoch=steps - offset,
                    validation_data=validation_data,
                    callbacks=run_callbacks,
                    shuffle=False,  # Datasets are shuffled by their pipeline.
                    verbose=verbose,
                )
                for key, values in fitted.history.items():
                    history.setdefault(key, []).extend(values)
                if last < epochs:
                    data = make_data()
                epoch, offset = last, 0
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
