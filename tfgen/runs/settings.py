"""Settings written once: dataclass fields that are also absl flags."""

from __future__ import annotations

import dataclasses
import sys

from absl import app, flags

from tfgen.runs.environment import quiet
from tfgen.runs.factories import JIT_CHOICES, STRATEGIES

#: Steps between backups of the training state (`Run`); each epoch end is backed up too.
DEFAULT_BACKUP_EVERY = 100


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


#: What the example scripts report in one `error:` line: bad settings and input (ValueError),
#: a run that cannot go on (RuntimeError) and files that cannot be read or written (OSError).
SCRIPT_ERRORS = (ValueError, RuntimeError, OSError)


def reporting_errors(main, errors=SCRIPT_ERRORS):
    """An absl `main(argv)` that prints the `errors` `main` raises as one line on stderr and
    exits with status 1, instead of a traceback."""

    def reporting(argv):
        try:
            return main(argv)
        except errors as error:
            print(f"error: {error}", file=sys.stderr, flush=True)
            return 1

    return reporting


def absl_main(run, config_class, errors=SCRIPT_ERRORS):
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
        "auto",
        "XLA compilation; 'auto' times the first steps with and without XLA and keeps the "
        "faster ('false' with --deterministic).",
        choices=JIT_CHOICES,
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
