r"""Trains a DCGAN with `model.fit` and leaves pictures, checkpoints and a servable model behind.

    python examples/train_gan.py                          # bundled digits, about a minute on a CPU
    python examples/train_gan.py --dataset=mnist --image_size=32 --epochs=20
    python examples/train_gan.py --dataset=folder:/data/faces --image_size=64 --channels=3 \
        --loss=hinge --gradient_penalty=r1:1 --strategy=mirrored --output_dir=runs/faces
    python examples/train_gan.py --resume                 # continue an interrupted run

Everything goes to --output_dir (default runs/gan):

    samples/epoch_NNN.png   images of one fixed batch of latent codes after each epoch
    losses.png              the metrics per epoch (also in history.csv)
    logs/                   TensorBoard scalars and sample images (tensorboard --logdir ...)
    checkpoint.keras        the model after the last epoch whose values were all finite
    backup/                 the state `--resume` restarts from (deleted when a run finishes)
    gan.keras               the final model: keras.saving.load_model(path) (safe_mode works)
    saved_model/            the generator as a TensorFlow SavedModel (tfgen.export)
    config.json             the settings of the run

`train(...)` takes the settings as keyword arguments (the flag names) and returns a `RunResult`;
the helpers `make_strategy` and `make_optimizer` are shared by the other example scripts.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
import shutil
import sys

from absl import app, flags

# Flag values are validated by `Config.check`, which the tests call without absl.
ENUM_STRATEGIES = ("default", "mirrored", "multi_worker", "tpu")
JIT_CHOICES = ("auto", "true", "false")
#: Optimizers of tfgen, by flag name; any Keras optimizer name works too.
TFGEN_OPTIMIZERS = ("nesterov", "adam", "conjugate_gradient")
#: Keras optimizers that `keras.optimizers.get(name)` builds from a learning rate alone.
_KERAS_OPTIMIZER_EXCLUDED = ("optimizer", "lossscaleoptimizer", "multioptimizer", "optimizermap")

#: Files and folders of a run in its output_dir; --overwrite removes exactly these.
RUN_ARTEFACTS = (
    "samples",
    "logs",
    "backup",
    "losses.png",
    "history.csv",
    "checkpoint.keras",
    "saved_model",
    "config.json",
)
#: Settings that must match for --resume to continue a run (they shape the model or data).
RESUME_KEYS = (
    "dataset",
    "image_size",
    "channels",
    "batch_size",
    "steps",
    "latent_dim",
    "base_filters",
    "loss",
    "gradient_penalty",
    "discriminator_steps",
    "generator_optimizer",
    "discriminator_optimizer",
    "ema",
    "mixed_precision",
    "spectral_norm",
)


@dataclasses.dataclass
class Config:
    """The settings of a run; the fields are the flags of this script (see their help)."""

    dataset: str = "digits"
    image_size: int = 16
    channels: int | None = None
    batch_size: int = 32
    epochs: int = 40
    steps: int | None = None
    latent_dim: int = 64
    base_filters: int = 32
    loss: str = "non_saturating"
    gradient_penalty: str = "none"
    discriminator_steps: int = 1
    spectral_norm: bool = False
    generator_optimizer: str = "adam"
    discriminator_optimizer: str = "adam"
    g_lr: float = 2e-4
    d_lr: float = 2e-4
    ema: float = 0.99
    mixed_precision: bool = False
    jit_compile: str = "auto"
    strategy: str = "default"
    output_dir: str = "runs/gan"
    seed: int = 0
    samples: int = 64
    sample_every: int = 1
    resume: bool = False
    overwrite: bool = False
    verbose: int | str = "auto"

    def check(self):
        """Raises ValueError naming the first bad setting, the value and what is allowed."""
        from tfgen import architectures, losses

        _positive_int(self.image_size, "image_size")
        if self.channels is not None and self.channels not in architectures.ALLOWED_CHANNELS:
            raise ValueError(
                f"channels must be one of {architectures.ALLOWED_CHANNELS} (or unset to keep the "
                f"dataset's), got {self.channels!r}"
            )
        side = self.image_size
        if side & (side - 1) or not architectures.MIN_SIDE <= side <= architectures.MAX_SIDE:
            raise ValueError(
                f"image_size must be a power of two from {architectures.MIN_SIDE} to "
                f"{architectures.MAX_SIDE}, got {side}"
            )
        for name in ("batch_size", "epochs", "latent_dim", "base_filters", "samples"):
            _positive_int(getattr(self, name), name)
        for name in ("discriminator_steps", "sample_every"):
            _positive_int(getattr(self, name), name)
        if self.steps is not None:
            _positive_int(self.steps, "steps")
        if self.loss not in losses.LOSSES:
            raise ValueError(f"loss must be one of {', '.join(losses.LOSSES)}, got {self.loss!r}")
        try:
            losses.parse_gradient_penalty(self.gradient_penalty)
        except ValueError as error:
            raise ValueError(str(error)) from None
        for name in ("generator_optimizer", "discriminator_optimizer"):
            check_optimizer_name(getattr(self, name), name)
        for name in ("g_lr", "d_lr"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
                raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
        if not isinstance(self.ema, int | float) or not 0 <= self.ema < 1:
            raise ValueError(f"ema must be a number in [0, 1) (0 turns it off), got {self.ema!r}")
        if self.strategy not in ENUM_STRATEGIES:
            raise ValueError(
                f"strategy must be one of {', '.join(ENUM_STRATEGIES)}, got {self.strategy!r}"
            )
        if str(self.jit_compile).lower() not in JIT_CHOICES:
            raise ValueError(
                f"jit_compile must be one of {', '.join(JIT_CHOICES)}, got {self.jit_compile!r}"
            )
        if not isinstance(self.output_dir, str) or not self.output_dir:
            raise ValueError(f"output_dir must be a directory path, got {self.output_dir!r}")
        if self.resume and self.overwrite:
            raise ValueError("resume and overwrite exclude each other: pass one of them")


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


# --------------------------------------------------------------------------------------------
# Helpers shared by the example scripts.


def _positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


def keras_optimizer_names():
    """Lower-case names of Keras' built-in optimizers, e.g. 'sgd', 'rmsprop', 'adamw'."""
    import keras

    names = {
        name.lower()
        for name in dir(keras.optimizers)
        if isinstance(getattr(keras.optimizers, name), type)
        and issubclass(getattr(keras.optimizers, name), keras.optimizers.Optimizer)
    }
    return tuple(sorted(names - set(_KERAS_OPTIMIZER_EXCLUDED) - set(TFGEN_OPTIMIZERS)))


def check_optimizer_name(name, argument="optimizer"):
    """Raises ValueError listing the valid names unless `name` names an optimizer."""
    valid = TFGEN_OPTIMIZERS + keras_optimizer_names()
    if not isinstance(name, str) or name.lower() not in valid:
        raise ValueError(
            f"{argument} must be one of the tfgen optimizers {', '.join(TFGEN_OPTIMIZERS)} or a "
            f"Keras optimizer name ({', '.join(keras_optimizer_names())}), got {name!r}"
        )
    return name.lower()


def make_optimizer(name, learning_rate, gan=False):
    """An optimizer from its flag name and learning rate.

    "adam" is tfgen's Adam, with beta_1 = 0.5 for GANs (Radford et al. 2015); "nesterov" and
    "conjugate_gradient" are tfgen's; any other name is a Keras optimizer made with
    `keras.optimizers.get` and this learning rate.
    """
    import keras

    from tfgen import optimizers

    name = check_optimizer_name(name)
    if name == "adam":
        return optimizers.Adam(learning_rate=learning_rate, beta_1=0.5 if gan else 0.9)
    if name == "nesterov":
        return optimizers.Nesterov(learning_rate=learning_rate)
    if name == "conjugate_gradient":
        return optimizers.ConjugateGradient(learning_rate=learning_rate)
    return keras.optimizers.get({"class_name": name, "config": {"learning_rate": learning_rate}})


def make_strategy(name):
    """A `tf.distribute` strategy from its flag name.

    "default": no distribution (one device). "mirrored": `MirroredStrategy` over all local GPUs
    (the CPU when there is none). "multi_worker": `MultiWorkerMirroredStrategy`, configured by
    the TF_CONFIG environment variable of each worker. "tpu": `TPUStrategy` on the TPU found
    by `TPUClusterResolver` (a Cloud TPU VM or the TPU named by the TPU_NAME variable).
    """
    import tensorflow as tf

    if name not in ENUM_STRATEGIES:
        raise ValueError(f"strategy must be one of {', '.join(ENUM_STRATEGIES)}, got {name!r}")
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


def prepare_output_dir(
    output_dir, config, resume, overwrite, artefacts, final_model, resume_keys=RESUME_KEYS
):
    """Checks that `output_dir` may be used, clears it for --overwrite; returns its path.

    A directory holding another run's files is used only with `resume` (which requires the
    settings in `resume_keys` to match the saved config.json) or `overwrite` (which deletes
    the run's files, and nothing else).
    """
    output_dir = os.path.abspath(output_dir)
    present = [
        name for name in (*artefacts, final_model) if os.path.exists(_join(output_dir, name))
    ]
    if present and overwrite:
        for name in present:
            path = _join(output_dir, name)
            shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)
    elif present and not resume:
        raise ValueError(
            f"output_dir {output_dir} holds another run ({', '.join(present)}): pass --resume "
            "to continue it, --overwrite to replace it, or choose another --output_dir"
        )
    elif resume and present and not os.path.isdir(_join(output_dir, "backup")):
        if final_model in present:
            raise ValueError(
                f"--resume: the run in output_dir {output_dir} finished ({final_model}; a "
                "finished run deletes its backup/): pass --overwrite to train afresh"
            )
        print("--resume: no epoch of the earlier run had finished; starting afresh.", flush=True)
    elif resume and present:
        saved = {}
        if os.path.exists(_join(output_dir, "config.json")):
            with open(_join(output_dir, "config.json")) as file:
                saved = json.load(file)
        current = dataclasses.asdict(config)
        changed = [
            f"{key}={saved[key]!r} -> {current[key]!r}"
            for key in resume_keys
            if key in saved and key in current and saved[key] != current[key]
        ]
        if changed:
            raise ValueError(
                f"--resume: these settings differ from the interrupted run in {output_dir}: "
                f"{'; '.join(changed)}. Resume with the same settings, or pass --overwrite."
            )
    os.makedirs(output_dir, exist_ok=True)
    return output_dir


def _join(*parts):
    return os.path.join(*parts)


def read_history(path):
    """Metrics per epoch from a CSVLogger file, keeping the last row written for each epoch."""
    rows = {}
    if not os.path.exists(path):
        return {}
    with open(path, newline="") as file:
        for row in csv.DictReader(file):
            rows[int(row.pop("epoch"))] = row
    history = {}
    for epoch in sorted(rows):
        for key, value in rows[epoch].items():
            try:
                number = float(value)
            except (TypeError, ValueError):
                number = float("nan")  # CSVLogger writes "NA" for absent validation metrics.
            history.setdefault(key, []).append(number)
    return {key: values for key, values in history.items() if not all(map(math.isnan, values))}


def jit_setting(value):
    value = str(value).lower()
    return {"auto": "auto", "true": True, "false": False}[value]


def set_mixed_precision(enabled):
    """Sets the global Keras dtype policy; returns the previous one, to restore afterwards."""
    import keras

    previous = keras.mixed_precision.dtype_policy().name
    keras.mixed_precision.set_global_policy("mixed_float16" if enabled else "float32")
    return previous


def tensorboard_callbacks(log_dir):
    """[keras.callbacks.TensorBoard(log_dir)] when the tensorboard package is installed, else []."""
    import keras

    from tfgen.callbacks import tensorboard_available

    if not tensorboard_available():
        print(
            "The tensorboard package is not installed: no TensorBoard logs "
            "(pip install tensorboard).",
            flush=True,
        )
        return []
    return [keras.callbacks.TensorBoard(log_dir, write_graph=False, profile_batch=0)]


def _print_outputs(lines):
    width = max(len(label) for label, _ in lines)
    for label, path in lines:
        print(f"  {label.ljust(width)}  {path}", flush=True)


# --------------------------------------------------------------------------------------------
# Training.


def train(config=None, callbacks=(), distribute_strategy=None, **settings):
    """Trains a GAN as `config` (a `Config`) or the keyword `settings` (flag names) say.

    Args:
        config: A `Config`; keyword `settings` override its fields.
        callbacks: Extra Keras callbacks, run after the script's own.
        distribute_strategy: A `tf.distribute.Strategy` to use instead of the one
            `config.strategy` names.
        **settings: Any field of `Config`.

    Returns:
        A `RunResult`.

    Raises:
        ValueError: a bad setting, an unknown dataset, or an output_dir that holds another run
            (without resume or overwrite).
        RuntimeError: training diverged (a metric became NaN or infinite); checkpoint.keras
            keeps the last good model.
    """
    config = dataclasses.replace(config or Config(), **settings)
    config.check()

    import keras

    import tfgen.data
    from tfgen import architectures, export
    from tfgen import callbacks as tfgen_callbacks
    from tfgen.models import GAN

    # The strategy first: a multi-worker strategy must exist before TensorFlow runs any op.
    strategy = distribute_strategy or make_strategy(config.strategy)
    dataset = tfgen.data.load(
        config.dataset,
        split="train",
        image_size=config.image_size,
        channels=config.channels,
        batch_size=config.batch_size,
        repeat=config.steps is not None,
        seed=config.seed,
    )
    # Only once every setting and the data are known good is output_dir checked or cleared.
    output_dir = prepare_output_dir(
        config.output_dir, config, config.resume, config.overwrite, RUN_ARTEFACTS, "gan.keras"
    )
    previous_policy = set_mixed_precision(config.mixed_precision)
    try:
        keras.utils.set_random_seed(config.seed)
        image_shape = tuple(int(d) for d in dataset.element_spec.shape[1:])
        with strategy.scope():
            generator = architectures.dcgan_generator(
                image_shape, latent_dim=config.latent_dim, base_filters=config.base_filters
            )
            discriminator = architectures.dcgan_discriminator(
                image_shape, base_filters=config.base_filters, spectral_norm=config.spectral_norm
            )
            gan = GAN(generator, discriminator, seed=config.seed)
            gan.compile(
                generator_optimizer=make_optimizer(
                    config.generator_optimizer, config.g_lr, gan=True
                ),
                discriminator_optimizer=make_optimizer(
                    config.discriminator_optimizer, config.d_lr, gan=True
                ),
                loss=config.loss,
                gradient_penalty=config.gradient_penalty,
                discriminator_steps=config.discriminator_steps,
                generator_ema=config.ema or None,
                jit_compile=jit_setting(config.jit_compile),
            )
        write_config(output_dir, config)

        paths = run_paths(output_dir, "gan.keras")
        terminate = tfgen_callbacks.TerminateOnNaN()
        run_callbacks = [
            terminate,
            keras.callbacks.BackupAndRestore(paths["backup"]),
            keras.callbacks.CSVLogger(paths["history"], append=True),
            tfgen_callbacks.SafeCheckpoint(paths["checkpoint"]),
            tfgen_callbacks.SampleGrid(
                output_dir,
                every_n_epochs=config.sample_every,
                latent_batch=config.samples,
                seed=config.seed,
                tensorboard_dir=paths["logs"],
            ),
            *tensorboard_callbacks(paths["logs"]),
            *callbacks,
        ]
        fit = gan.fit(
            dataset,
            epochs=config.epochs,
            steps_per_epoch=config.steps,
            callbacks=run_callbacks,
            shuffle=False,  # The dataset is shuffled by its pipeline.
            verbose=config.verbose,
        )
        return finish(gan, fit, terminate, paths, output_dir, export.export_generator, "GAN")
    finally:
        keras.mixed_precision.set_global_policy(previous_policy)


def write_config(output_dir, config):
    with open(_join(output_dir, "config.json"), "w") as file:
        json.dump(dataclasses.asdict(config), file, indent=2)


def run_paths(output_dir, model_file):
    """Paths of a run's outputs in `output_dir`; `model_file` names the final model."""
    return {
        "backup": _join(output_dir, "backup"),
        "history": _join(output_dir, "history.csv"),
        "checkpoint": _join(output_dir, "checkpoint.keras"),
        "logs": _join(output_dir, "logs"),
        "samples": _join(output_dir, "samples"),
        "losses": _join(output_dir, "losses.png"),
        "model": _join(output_dir, model_file),
        "saved_model": _join(output_dir, "saved_model"),
    }


def finish(model, fit, terminate, paths, output_dir, export_fn, kind):
    """Plots the losses, saves and exports the model (unless it diverged), prints the paths."""
    from tfgen import plot
    from tfgen.callbacks import is_chief, save_atomically, tensorboard_available

    history = read_history(paths["history"]) or dict(fit.history)
    if history and is_chief():
        plot.loss_curves(history, paths["losses"], title=f"{kind} training")
    if terminate.stopped is not None:
        raise RuntimeError(
            f"{terminate.message} {paths['checkpoint']} holds the model of the last epoch "
            "whose values were all finite."
        )
    if is_chief():
        save_atomically(model, paths["model"])
        export_fn(model, paths["saved_model"])
    print(f"\nTraining finished. Outputs in {output_dir}:", flush=True)
    _print_outputs(
        [
            ("sample grids", paths["samples"]),
            ("loss curves", paths["losses"]),
            *(
                [("TensorBoard", f"tensorboard --logdir {paths['logs']}")]
                if tensorboard_available()
                else []
            ),
            ("model", f"{paths['model']}  (keras.saving.load_model)"),
            ("SavedModel", f"{paths['saved_model']}  (tf.saved_model.load)"),
            ("checkpoint", paths["checkpoint"]),
        ]
    )
    return RunResult(
        model=model,
        output_dir=output_dir,
        history=history,
        samples_dir=paths["samples"],
        losses_plot=paths["losses"],
        model_path=paths["model"],
        checkpoint_path=paths["checkpoint"],
        saved_model_dir=paths["saved_model"],
        logs_dir=paths["logs"],
        initial_epoch=int(getattr(model, "_initial_epoch", None) or 0),
    )


# --------------------------------------------------------------------------------------------
# Command line.


def define_flags(flag_values=flags.FLAGS):
    """Defines this script's flags on `flag_values`, with `Config`'s defaults."""
    from tfgen import losses

    d = Config()
    f = dict(flag_values=flag_values)
    define_data_flags(d, f, "Size of the latent code.")
    flags.DEFINE_enum("loss", d.loss, list(losses.LOSSES), "GAN loss.", **f)
    flags.DEFINE_string(
        "gradient_penalty",
        d.gradient_penalty,
        "Discriminator gradient penalty: 'none', 'r1[:gamma]' or 'wgan_gp[:lambda]', e.g. 'r1:10'.",
        **f,
    )
    flags.DEFINE_integer(
        "discriminator_steps", d.discriminator_steps, "Discriminator updates per step.", **f
    )
    flags.DEFINE_bool(
        "spectral_norm", d.spectral_norm, "Spectrally normalise the discriminator.", **f
    )
    optimizer_help = (
        "Optimizer of the {}: nesterov, adam, conjugate_gradient (tfgen) or any Keras "
        "optimizer name (sgd, rmsprop, adamw, ...)."
    )
    flags.DEFINE_string(
        "generator_optimizer", d.generator_optimizer, optimizer_help.format("generator"), **f
    )
    flags.DEFINE_string(
        "discriminator_optimizer",
        d.discriminator_optimizer,
        optimizer_help.format("discriminator"),
        **f,
    )
    flags.DEFINE_float("g_lr", d.g_lr, "Learning rate of the generator.", **f)
    flags.DEFINE_float("d_lr", d.d_lr, "Learning rate of the discriminator.", **f)
    flags.DEFINE_float(
        "ema",
        d.ema,
        "Decay of the moving average of the generator's weights used for samples and "
        "export (Karras et al. 2018); 0 turns it off.",
        **f,
    )
    define_run_flags(d, f, "Seed of weights, data order and latent codes.")


def define_data_flags(d, f, latent_help):
    """The data and network-size flags the example scripts share, with defaults from `d`."""
    flags.DEFINE_string(
        "dataset",
        d.dataset,
        "Images to train on: 'digits' or 'photos' (bundled, no download), a "
        "tensorflow-datasets name such as 'mnist' or 'cifar10', or 'folder:/path/to/images'.",
        **f,
    )
    flags.DEFINE_integer(
        "image_size", d.image_size, "Side of the square images, a power of two from 8.", **f
    )
    flags.DEFINE_enum(
        "channels", None, ["1", "3"], "1 (grey) or 3 (RGB); default the dataset's.", **f
    )
    flags.DEFINE_integer("batch_size", d.batch_size, "Images per batch, over all replicas.", **f)
    flags.DEFINE_integer("epochs", d.epochs, "Training epochs.", **f)
    flags.DEFINE_integer(
        "steps",
        None,
        "Steps (batches) per epoch; default one pass over the data. With it the data repeats.",
        **f,
    )
    flags.DEFINE_integer("latent_dim", d.latent_dim, latent_help, **f)
    flags.DEFINE_integer(
        "base_filters", d.base_filters, "Filters of the full-resolution convolutions.", **f
    )


def define_run_flags(d, f, seed_help):
    """The precision, distribution and output flags the example scripts share."""
    flags.DEFINE_bool("mixed_precision", d.mixed_precision, "Train in mixed float16.", **f)
    flags.DEFINE_enum(
        "jit_compile",
        d.jit_compile,
        list(JIT_CHOICES),
        "XLA compilation; 'auto' uses it on a single GPU only.",
        **f,
    )
    flags.DEFINE_enum(
        "strategy",
        d.strategy,
        list(ENUM_STRATEGIES),
        "Distribution: default (one device), mirrored (all local GPUs), multi_worker "
        "(machines listed in the TF_CONFIG environment variable) or tpu.",
        **f,
    )
    flags.DEFINE_string("output_dir", d.output_dir, "Directory for all outputs of the run.", **f)
    flags.DEFINE_integer("seed", d.seed, seed_help, **f)
    flags.DEFINE_integer("samples", d.samples, "Images in each sample grid.", **f)
    flags.DEFINE_integer("sample_every", d.sample_every, "Epochs between sample grids.", **f)
    flags.DEFINE_bool(
        "resume", d.resume, "Continue the interrupted run in --output_dir from its backup.", **f
    )
    flags.DEFINE_bool(
        "overwrite", d.overwrite, "Delete the run already in --output_dir and start afresh.", **f
    )


def config_from_flags(flag_values, config_class=Config):
    """A `config_class` instance from parsed flags (fields without a flag keep defaults)."""
    values = {}
    for field in dataclasses.fields(config_class):
        if field.name in flag_values:
            values[field.name] = flag_values[field.name].value
    if values.get("channels") is not None:
        values["channels"] = int(values["channels"])
    return config_class(**values)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {' '.join(argv[1:])}")
    try:
        train(config_from_flags(flags.FLAGS))
    except (ValueError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    define_flags()
    app.run(main)
