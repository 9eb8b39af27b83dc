r"""Trains an image-reconstruction model (denoising, inpainting, compression or a VAE) with `fit`.

    python examples/train_reconstruction.py                       # denoise the bundled digits
    python examples/train_reconstruction.py --task=inpaint --mask_fraction=0.3
    python examples/train_reconstruction.py --task=compress --latent_dim=16
    python examples/train_reconstruction.py --task=variational --kl_weight=0.5
    python examples/train_reconstruction.py --dataset=photos --image_size=32 --epochs=20

Tasks: `denoise` learns to remove Gaussian noise (--noise_stddev), `inpaint` to fill in masked
square patches (--mask_fraction, --mask_patch), `compress` to pass clean images through a
--latent_dim bottleneck, `variational` trains a VAE (Kingma & Welling 2014) whose decoder
also generates images from prior codes.

Outputs in --output_dir (default runs/reconstruction), as for examples/train_gan.py: sample
grids (clean / model input / reconstruction of a fixed batch of held-out images; prior samples
for a VAE), losses.png and history.csv (loss, PSNR, SSIM, on held-out images too when the
dataset has a test split), TensorBoard logs, checkpoint.keras, backup/ for --resume, the final
autoencoder.keras and the SavedModel export of tfgen.export.export_decoder in saved_model/.
"""

from __future__ import annotations

import dataclasses
import math
import os
import sys

from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train_gan as common  # noqa: E402  (the sibling script's shared helpers)

TASKS = ("denoise", "inpaint", "compress", "variational")
RECONSTRUCTION_LOSSES = ("l1", "l2", "ssim")
RUN_ARTEFACTS = common.RUN_ARTEFACTS
RESUME_KEYS = (
    "task",
    "dataset",
    "image_size",
    "channels",
    "batch_size",
    "steps",
    "latent_dim",
    "base_filters",
    "loss",
    "noise_stddev",
    "mask_fraction",
    "mask_patch",
    "kl_weight",
    "optimizer",
    "mixed_precision",
)


@dataclasses.dataclass
class Config:
    """The settings of a run; the fields are the flags of this script (see their help)."""

    task: str = "denoise"
    dataset: str = "digits"
    image_size: int = 16
    channels: int | None = None
    batch_size: int = 32
    epochs: int = 20
    steps: int | None = None
    latent_dim: int = 32
    base_filters: int = 32
    loss: str = "l1"
    noise_stddev: float = 0.2
    mask_fraction: float = 0.25
    mask_patch: int = 4
    kl_weight: float = 1.0
    optimizer: str = "adam"
    lr: float = 1e-3
    validation: bool = True
    mixed_precision: bool = False
    jit_compile: str = "auto"
    strategy: str = "default"
    output_dir: str = "runs/reconstruction"
    seed: int = 0
    samples: int = 8
    sample_every: int = 1
    resume: bool = False
    overwrite: bool = False
    verbose: int | str = "auto"

    def check(self):
        """Raises ValueError naming the first bad setting, the value and what is allowed."""
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {', '.join(TASKS)}, got {self.task!r}")
        if self.loss not in RECONSTRUCTION_LOSSES:
            raise ValueError(
                f"loss must be one of {', '.join(RECONSTRUCTION_LOSSES)}, got {self.loss!r}"
            )
        # The settings shared with the GAN script are checked by its Config.
        shared = {f.name for f in dataclasses.fields(common.Config)}
        gan_settings = {
            k: v for k, v in dataclasses.asdict(self).items() if k in shared and k != "loss"
        }
        gan_settings.update(generator_optimizer=self.optimizer, g_lr=self.lr)
        common.Config(**gan_settings).check()
        for name, value, low, high in (
            ("noise_stddev", self.noise_stddev, 0.0, 1.0),
            ("mask_fraction", self.mask_fraction, 0.0, 1.0),
        ):
            if not isinstance(value, int | float) or not low <= value <= high:
                raise ValueError(f"{name} must be a number in [{low}, {high}], got {value!r}")
        common._positive_int(self.mask_patch, "mask_patch")
        if not isinstance(self.kl_weight, int | float) or not (
            math.isfinite(self.kl_weight) and self.kl_weight >= 0
        ):
            raise ValueError(f"kl_weight must be a finite number >= 0, got {self.kl_weight!r}")


def make_corruption(config):
    """The corruption of `config.task` (None for compress and variational)."""
    from tfgen import corruptions

    if config.task == "denoise":
        # --noise_stddev is in units of [0, 1] images; the models see [-1, 1], twice as wide.
        return corruptions.GaussianNoise(2.0 * config.noise_stddev)
    if config.task == "inpaint":
        return corruptions.RandomMask(fraction=config.mask_fraction, patch_size=config.mask_patch)
    return None


def _held_out(config):
    """The dataset's test split as a pipeline for validation, or None when it has none."""
    import tfgen.data

    try:
        return tfgen.data.load(
            config.dataset,
            split="test",
            image_size=config.image_size,
            channels=config.channels,
            batch_size=config.batch_size,
            shuffle=False,
            drop_remainder=False,
        )
    except (ValueError, FileNotFoundError) as error:
        print(f"No held-out split used ({error}).", flush=True)
        return None


def train(config=None, callbacks=(), distribute_strategy=None, **settings):
    """Trains a reconstruction model as `config` (a `Config`) or the keyword `settings` say.

    Args:
        config: A `Config`; keyword `settings` override its fields.
        callbacks: Extra Keras callbacks, run after the script's own.
        distribute_strategy: A `tf.distribute.Strategy` to use instead of the one
            `config.strategy` names.
        **settings: Any field of `Config`.

    Returns:
        A `train_gan.RunResult`.

    Raises:
        ValueError: a bad setting, an unknown dataset, or an output_dir that holds another run
            (without resume or overwrite).
        RuntimeError: training diverged; checkpoint.keras keeps the last good model.
    """
    config = dataclasses.replace(config or Config(), **settings)
    config.check()

    import keras
    import numpy as np

    import tfgen.data
    from tfgen import architectures, export
    from tfgen import callbacks as tfgen_callbacks
    from tfgen.models.autoencoder import Autoencoder

    # The strategy first: a multi-worker strategy must exist before TensorFlow runs any op.
    strategy = distribute_strategy or common.make_strategy(config.strategy)
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
    output_dir = common.prepare_output_dir(
        config.output_dir,
        config,
        config.resume,
        config.overwrite,
        RUN_ARTEFACTS,
        "autoencoder.keras",
        resume_keys=RESUME_KEYS,
    )
    previous_policy = common.set_mixed_precision(config.mixed_precision)
    try:
        keras.utils.set_random_seed(config.seed)
        image_shape = tuple(int(d) for d in dataset.element_spec.shape[1:])
        held_out = _held_out(config) if config.validation else None
        source = held_out if held_out is not None else dataset
        fixed = np.concatenate([np.asarray(batch) for batch in source.take(4)])[: config.samples]
        variational = config.task == "variational"
        with strategy.scope():
            encoder = architectures.conv_encoder(
                image_shape,
                config.latent_dim,
                variational=variational,
                base_filters=config.base_filters,
            )
            decoder = architectures.conv_decoder(
                config.latent_dim, image_shape, base_filters=config.base_filters
            )
            model = Autoencoder(
                encoder,
                decoder,
                corruption=make_corruption(config),
                loss=config.loss,
                variational=variational,
                kl_weight=config.kl_weight,
                seed=config.seed,
            )
            model.compile(
                optimizer=common.make_optimizer(config.optimizer, config.lr),
                jit_compile=common.jit_setting(config.jit_compile),
            )
        common.write_config(output_dir, config)

        paths = common.run_paths(output_dir, "autoencoder.keras")
        if variational:
            grid = tfgen_callbacks.SampleGrid(
                output_dir,
                every_n_epochs=config.sample_every,
                latent_batch=max(config.samples, 16),
                seed=config.seed,
                tensorboard_dir=paths["logs"],
            )
        else:
            grid = tfgen_callbacks.ReconstructionGrid(
                output_dir,
                fixed,
                every_n_epochs=config.sample_every,
                seed=config.seed,
                tensorboard_dir=paths["logs"],
            )
        terminate = tfgen_callbacks.TerminateOnNaN()
        run_callbacks = [
            terminate,
            keras.callbacks.BackupAndRestore(paths["backup"]),
            keras.callbacks.CSVLogger(paths["history"], append=True),
            tfgen_callbacks.SafeCheckpoint(paths["checkpoint"]),
            grid,
            *common.tensorboard_callbacks(paths["logs"]),
            *callbacks,
        ]
        fit = model.fit(
            dataset,
            epochs=config.epochs,
            steps_per_epoch=config.steps,
            validation_data=held_out,
            callbacks=run_callbacks,
            shuffle=False,  # The dataset is shuffled by its pipeline.
            verbose=config.verbose,
        )
        return common.finish(
            model, fit, terminate, paths, output_dir, export.export_decoder, f"{config.task}"
        )
    finally:
        keras.mixed_precision.set_global_policy(previous_policy)


# --------------------------------------------------------------------------------------------
# Command line.


def define_flags(flag_values=flags.FLAGS):
    """Defines this script's flags on `flag_values`, with `Config`'s defaults."""
    d = Config()
    # The shared flags are defined in train_gan.py; naming this module keeps them in --helpshort.
    module = sys.argv[0] if __name__ == "__main__" else __name__
    f = dict(flag_values=flag_values, module_name=module)
    flags.DEFINE_enum(
        "task",
        d.task,
        list(TASKS),
        "denoise (remove Gaussian noise), inpaint (fill in masked patches), compress (a "
        "bottleneck autoencoder) or variational (a VAE).",
        **f,
    )
    common.define_data_flags(d, f, "Size of the code (the bottleneck).")
    flags.DEFINE_enum(
        "loss", d.loss, list(RECONSTRUCTION_LOSSES), "Reconstruction loss (ssim: 1 - SSIM).", **f
    )
    flags.DEFINE_float(
        "noise_stddev", d.noise_stddev, "denoise: noise standard deviation on [0, 1] images.", **f
    )
    flags.DEFINE_float(
        "mask_fraction", d.mask_fraction, "inpaint: probability that a pixel is masked.", **f
    )
    flags.DEFINE_integer("mask_patch", d.mask_patch, "inpaint: side of the masked squares.", **f)
    flags.DEFINE_float("kl_weight", d.kl_weight, "variational: weight of the KL term (beta).", **f)
    flags.DEFINE_string(
        "optimizer",
        d.optimizer,
        "nesterov, adam, conjugate_gradient (tfgen) or any Keras optimizer name.",
        **f,
    )
    flags.DEFINE_float("lr", d.lr, "Learning rate.", **f)
    flags.DEFINE_bool(
        "validation", d.validation, "Evaluate on the dataset's test split every epoch.", **f
    )
    common.define_run_flags(d, f, "Seed of weights, data order and corruptions.")


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {' '.join(argv[1:])}")
    try:
        train(common.config_from_flags(flags.FLAGS, Config))
    except (ValueError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    define_flags()
    app.run(main)
