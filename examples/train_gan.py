r"""Trains a DCGAN with `model.fit` and leaves pictures, checkpoints and a servable model behind.

    python examples/train_gan.py                          # bundled digits, about a minute on a CPU
    python examples/train_gan.py --dataset=mnist --image_size=32 --epochs=20
    python examples/train_gan.py --dataset=folder:/data/faces --image_size=64 --channels=3 \
        --loss=hinge --gradient_penalty=r1:1 --strategy=mirrored --output_dir=runs/faces
    python examples/train_gan.py --resume                 # continue an interrupted run
    python examples/train_gan.py --conditional --augment=color,translation,cutout

Everything goes to --output_dir (default runs/gan), as `tfgen.runs` lays it out: samples/,
losses.png, history.csv, logs/ (TensorBoard), checkpoint.keras, backup/ (for --resume),
gan.keras (the final model) and saved_model/ (the generator, `tfgen.export`), config.json.

`train(...)` takes the settings as keyword arguments (the flag names) and returns a
`tfgen.runs.RunResult`.
"""

from __future__ import annotations

import dataclasses
import functools
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # Read once, when TensorFlow is imported.

from absl import app  # noqa: E402

import tfgen  # noqa: E402
from tfgen import architectures, losses, runs  # noqa: E402
from tfgen.runs import setting  # noqa: E402

_OPTIMIZER_HELP = (
    "Optimizer of the {}: nesterov, adam, conjugate_gradient (tfgen) or any Keras optimizer "
    "name (sgd, rmsprop, adamw, ...)."
)
#: Settings that must match for --resume to continue a run (they shape the model or data).
RESUME_KEYS = (
    *("dataset", "image_size", "channels", "batch_size", "steps", "latent_dim", "base_filters"),
    *("loss", "gradient_penalty", "discriminator_steps", "spectral_norm", "ema"),
    *("generator_optimizer", "discriminator_optimizer", "mixed_precision"),
    *("conditional", "augment"),
)


@dataclasses.dataclass
class Config(runs.TrainingSettings):
    """The settings of a run: the flags of this script (`tfgen.runs.TrainingSettings` and these)."""

    loss: str = setting("non_saturating", "GAN loss.", choices=losses.LOSSES)
    gradient_penalty: str = setting(
        "none",
        "Discriminator gradient penalty: 'none', 'r1[:gamma]' or 'wgan_gp[:lambda]', e.g. 'r1:10'.",
    )
    discriminator_steps: int = setting(1, "Discriminator updates per step.")
    spectral_norm: bool = setting(False, "Spectrally normalise the discriminator.")
    generator_optimizer: str = setting("adam", _OPTIMIZER_HELP.format("generator"))
    discriminator_optimizer: str = setting("adam", _OPTIMIZER_HELP.format("discriminator"))
    g_lr: float = setting(2e-4, "Learning rate of the generator.")
    d_lr: float = setting(2e-4, "Learning rate of the discriminator.")
    ema: float = setting(
        0.99,
        "Decay of the moving average of the generator's weights used for samples and export "
        "(Karras et al. 2018); 0 turns it off.",
    )
    eval_every: int = setting(
        5, "Epochs between FID, KID and precision/recall scores in the history; 0 turns it off."
    )
    eval_samples: int = setting(1000, "Generated images per evaluation.")
    eval_features: str = setting(
        "auto",
        "Feature extractor of the scores: 'digits', 'inception_pool3:PATH', 'inception_v3:PATH', "
        "or 'auto' (the digits classifier on the digits, no scores on other data).",
    )
    conditional: bool = setting(
        False,
        "Class-conditional GAN on the dataset's labels (tfds class labels, one sub-folder per "
        "class, the digits' digits); sample grids get one row per class.",
    )
    augment: str = setting(
        "none",
        "DiffAugment operations applied before every discriminator call, e.g. "
        "'color,translation,cutout' (tfgen.augment); 'none' turns it off.",
    )


def train(config=None, callbacks=(), distribute_strategy=None, **settings):
    """Trains a GAN as `config` (a `Config`) or the keyword `settings` (flag names) say.

    `callbacks` run after the run's own; `distribute_strategy` replaces the one
    `config.strategy` names. Returns a `tfgen.runs.RunResult`; raises ValueError for a bad
    setting (before output_dir is touched) and RuntimeError when training diverged.
    """
    config = dataclasses.replace(config or Config(), **settings)
    strategy = distribute_strategy or runs.make_strategy(config.strategy)  # Before other TF work.
    runs.set_random_seed(config.seed, config.deterministic)  # Before the data: its shuffle.
    run = runs.Run.from_settings(config, "gan.keras", RESUME_KEYS)
    # A function, so that a run resumed inside an epoch reads a fresh copy of the stream.
    make_dataset = functools.partial(
        tfgen.data.load,
        config.dataset,
        image_size=config.image_size,
        channels=config.channels,
        batch_size=config.batch_size,
        repeat=config.steps is not None,
        seed=config.seed,
        with_labels=config.conditional,
    )
    dataset = make_dataset()
    num_classes = len(tfgen.data.class_names(config.dataset)) if config.conditional else None
    with runs.dtype_policy(config.mixed_precision):
        images_spec = dataset.element_spec[0] if config.conditional else dataset.element_spec
        image_shape = tuple(images_spec.shape[1:])
        with strategy.scope():
            gan = tfgen.models.GAN(
                architectures.dcgan_generator(
                    image_shape,
                    latent_dim=config.latent_dim,
                    base_filters=config.base_filters,
                    num_classes=num_classes,
                ),
                architectures.dcgan_discriminator(
                    image_shape,
                    base_filters=config.base_filters,
                    spectral_norm=config.spectral_norm,
                    num_classes=num_classes,
                ),
                seed=config.seed,
                num_classes=num_classes,
            )
            gan.compile(
                generator_optimizer=runs.make_optimizer(
                    config.generator_optimizer,
                    config.g_lr,
                    gan=True,
                    argument="generator_optimizer",
                ),
                discriminator_optimizer=runs.make_optimizer(
                    config.discriminator_optimizer,
                    config.d_lr,
                    gan=True,
                    argument="discriminator_optimizer",
                ),
                loss=config.loss,
                gradient_penalty=config.gradient_penalty,
                discriminator_steps=config.discriminator_steps,
                generator_ema=config.ema or None,
                augment=None if config.augment == "none" else config.augment,
                jit_compile=runs.jit_setting(config.jit_compile, config.deterministic),
            )
        grid = tfgen.callbacks.SampleGrid(
            run.output_dir,
            every_n_epochs=config.sample_every,
            latent_batch=config.samples,
            seed=config.seed,
            tensorboard_dir=run.path("logs"),
        )
        return run.fit(
            gan,
            make_dataset,
            epochs=config.epochs,
            steps_per_epoch=config.steps,
            callbacks=[grid, *callbacks],
            export=tfgen.export.export_generator,
            title="GAN training",
            verbose=config.verbose,
            evaluation=_evaluation(config, run),
        )


def _evaluation(config, run):
    """The EvaluateGenerator callback the settings ask for, as a list (empty for none)."""
    features = config.eval_features
    if features == "auto":
        features = "digits" if config.dataset == "digits" else None
    if not config.eval_every or features is None:
        return []
    real = tfgen.data.load(
        config.dataset,
        image_size=config.image_size,
        channels=config.channels,
        batch_size=250,
        shuffle=False,
        drop_remainder=False,
    )
    return [
        tfgen.callbacks.EvaluateGenerator(
            tfgen.metrics.default_metrics(tfgen.metrics.feature_extractor(features)),
            real,
            every_n_epochs=config.eval_every,
            num_samples=config.eval_samples,
            seed=config.seed,
            tensorboard_dir=run.path("logs"),
        )
    ]


main = runs.absl_main(train, Config)


if __name__ == "__main__":
    runs.define_flags(Config)
    app.run(main)
