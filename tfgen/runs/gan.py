"""The GAN run of examples/train_gan.py: its settings, its model, its evaluation callbacks."""

from __future__ import annotations

import dataclasses

import tfgen.callbacks
import tfgen.data
import tfgen.metrics
from tfgen import architectures, losses
from tfgen.models import GAN
from tfgen.models import gan as gan_model
from tfgen.runs.factories import jit_setting, make_optimizer
from tfgen.runs.settings import TrainingSettings, setting

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
class GANSettings(TrainingSettings):
    """The settings of a GAN run (examples/train_gan.py's flags): `TrainingSettings` and these."""

    loss: str = setting("non_saturating", "GAN loss.", choices=losses.LOSSES)
    gradient_penalty: str = setting(
        "none",
        "Discriminator gradient penalty: 'none', 'r1[:gamma]' or 'wgan_gp[:lambda]', e.g. 'r1:10'.",
    )
    discriminator_steps: int = setting(1, "Discriminator updates per step.")
    spectral_norm: bool = setting(False, "Spectrally normalise the discriminator.")
    generator_optimizer: str = setting("adam", _OPTIMIZER_HELP.format("generator"))
    discriminator_optimizer: str = setting("adam", _OPTIMIZER_HELP.format("discriminator"))
    g_lr: float = setting(gan_model.DEFAULT_LEARNING_RATE, "Learning rate of the generator.")
    d_lr: float = setting(gan_model.DEFAULT_LEARNING_RATE, "Learning rate of the discriminator.")
    ema: float = setting(
        0.99,
        "Decay of the moving average of the generator's weights used for samples and export "
        "(Karras et al. 2018); 0 turns it off.",
    )
    eval_every: int = setting(
        5, "Epochs between FID, KID and precision/recall scores in the history; 0 turns it off."
    )
    eval_samples: int = setting(
        500,
        "Generated images per evaluation; as many real images are the reference and as many "
        "others the floor (real against real), so the data needs twice this many.",
    )
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


def build_gan(config, image_shape, num_classes=None):
    """The DCGAN of `config` (a `GANSettings`) for `image_shape`, compiled as it says.

    Call it inside the strategy's scope and the dtype policy of the run.
    """
    gan = GAN(
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
    optimizers = {
        f"{network}_optimizer": make_optimizer(
            getattr(config, f"{network}_optimizer"),
            getattr(config, f"{network[0]}_lr"),
            gan=True,
            argument=f"{network}_optimizer",
        )
        for network in ("generator", "discriminator")
    }
    gan.compile(
        **optimizers,
        loss=config.loss,
        gradient_penalty=config.gradient_penalty,
        discriminator_steps=config.discriminator_steps,
        generator_ema=config.ema or None,
        augment=None if config.augment == "none" else config.augment,
        jit_compile=jit_setting(config.jit_compile, config.deterministic),
    )
    return gan


def evaluation_callbacks(config, run):
    """The `EvaluateGenerator` callback `config` asks for, as a list (empty for none)."""
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
            floor=True,  # The run's TensorBoard writer (`GroupedScalars`) logs the scores.
        )
    ]
