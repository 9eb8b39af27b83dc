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

Modules, one job each: `settings` (settings and flags), `factories` (optimizers, strategies,
jit and dtype settings from names), `environment` (quiet logs, seeds, determinism), `inputs`
(held-out split, fixed images, batches per epoch), `history` (history.csv, TensorBoard) and
`folder` (the output folder and `Run`), all importable from `tfgen.runs`; and the two training
runs of the examples, `tfgen.runs.gan` and `tfgen.runs.reconstruction` (settings, model, and
the callbacks of each), imported by name.
"""

from tfgen.runs.environment import quiet, set_random_seed
from tfgen.runs.factories import (
    GAN_ADAM_BETA_1,
    GAN_ADAM_BETA_2,
    JIT_CHOICES,
    STRATEGIES,
    TFGEN_OPTIMIZERS,
    dtype_policy,
    jit_setting,
    make_optimizer,
    make_strategy,
    optimizer_names,
)
from tfgen.runs.folder import ARTEFACTS, Run, RunResult, check_output_dir
from tfgen.runs.history import read_history, tensorboard_callbacks
from tfgen.runs.inputs import batches_per_epoch, first_images, held_out_split
from tfgen.runs.settings import (
    DEFAULT_BACKUP_EVERY,
    SCRIPT_ERRORS,
    TrainingSettings,
    absl_main,
    config_from_flags,
    define_flags,
    reporting_errors,
    setting,
)

__all__ = [
    "ARTEFACTS",
    "DEFAULT_BACKUP_EVERY",
    "GAN_ADAM_BETA_1",
    "GAN_ADAM_BETA_2",
    "JIT_CHOICES",
    "TFGEN_OPTIMIZERS",
    "tensorboard_callbacks",
    "absl_main",
    "STRATEGIES",
    "Run",
    "RunResult",
    "batches_per_epoch",
    "check_output_dir",
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
    "reporting_errors",
    "SCRIPT_ERRORS",
    "set_random_seed",
    "setting",
]
