"""The reconstruction run of examples/train_reconstruction.py: settings, corruption, model."""

from __future__ import annotations

import dataclasses

from tfgen import architectures, corruptions, data
from tfgen.models import Autoencoder
from tfgen.runs.factories import jit_setting, make_optimizer
from tfgen.runs.settings import TrainingSettings, setting

TASKS = ("denoise", "inpaint", "compress", "variational", "super_resolution", "deblur", "jpeg")
#: Tasks learnt by an image-to-image U-Net, without encoder or bottleneck; their SavedModel
#: serves `restore` (degraded images in [0, 1] -> restored images in [0, 1]).
RESTORATION_TASKS = ("denoise", "inpaint", "super_resolution", "deblur", "jpeg")
#: Adam's (initial) learning rate for the image-to-image networks: the recipe that
#: benchmarks/restoration.py and benchmarks/reconstruction.py measure (BENCHMARKS.md,
#: restoration section).
RESTORATION_LEARNING_RATE = 2e-3
RESUME_KEYS = (
    *("task", "dataset", "image_size", "channels", "batch_size", "steps", "latent_dim"),
    *("base_filters", "loss", "noise_stddev", "mask_fraction", "mask_patch", "kl_weight"),
    *("optimizer", "mixed_precision", "factor", "blur_sigma", "jpeg_quality", "blur_fill"),
    "permute_channels",
)


@dataclasses.dataclass
class ReconstructionSettings(TrainingSettings):
    """The settings of a reconstruction run (examples/train_reconstruction.py's flags)."""

    task: str = setting(
        "denoise",
        "denoise (remove Gaussian noise), inpaint (fill in masked patches), super_resolution, "
        "deblur, jpeg (remove compression artefacts), all with an image-to-image U-Net; "
        "compress (a bottleneck autoencoder) or variational (a VAE).",
        choices=TASKS,
    )
    epochs: int = 20
    latent_dim: int = setting(32, "compress, variational: size of the code (the bottleneck).")
    output_dir: str = "runs/reconstruction"
    samples: int = 8
    # l2 and RESTORATION_LEARNING_RATE: the recipe of benchmarks/restoration.py.
    loss: str = setting("l2", "Reconstruction loss: l1, l2 or ssim (1 - SSIM).")
    noise_stddev: float = setting(0.2, "denoise: noise standard deviation on [0, 1] images.")
    mask_fraction: float = setting(
        corruptions.pixels.DEFAULT_MASK_FRACTION, "inpaint: probability that a pixel is masked."
    )
    mask_patch: int = setting(
        corruptions.pixels.DEFAULT_MASK_PATCH, "inpaint: side of the masked squares."
    )
    blur_fill: float = setting(
        1.5,
        "inpaint: sigma (pixels) of the normalised-convolution fill of the holes that the U-Net "
        "starts from and corrects; 0 for none (the holes keep their fill value).",
    )
    kl_weight: float = setting(1.0, "variational: weight of the KL term (beta).")
    factor: int = setting(2, "super_resolution: downsampling factor (bicubic, then back up).")
    blur_sigma: float = setting(1.5, "deblur: standard deviation of the Gaussian blur, pixels.")
    # One model for a range of qualities: the recipe of benchmarks/restoration.py.
    jpeg_quality: str = setting(
        "10-20",
        "jpeg: JPEG quality in [1, 100], or a range 'low-high' from which each image draws its "
        "own (one model for every quality of the range).",
    )
    permute_channels: float = setting(
        0.5,
        "jpeg: the probability that a training image shows its colour channels in a random "
        "order, one of the 6 (tfgen.data.with_permuted_channels), so that colours the "
        "training images lack are restored too; 0: never.",
    )
    optimizer: str = setting(
        "adam", "nesterov, adam, conjugate_gradient (tfgen) or any Keras optimizer name."
    )
    lr: float = setting(RESTORATION_LEARNING_RATE, "Learning rate.")
    validation: bool = setting(True, "Evaluate on the dataset's test split every epoch.")


def training_data(config, **load_arguments):
    """The training batches of `config`: `tfgen.data.load(config.dataset, ...)` with
    `load_arguments`, repeated when `config.steps` is set; for the jpeg task each image shows
    its colour channels in a random order with probability `config.permute_channels`
    (`tfgen.data.with_permuted_channels`)."""
    dataset = data.load(
        config.dataset, repeat=config.steps is not None, seed=config.seed, **load_arguments
    )
    if config.task == "jpeg" and config.permute_channels:
        try:
            dataset = data.with_permuted_channels(dataset, config.seed, config.permute_channels)
        except ValueError as error:
            raise ValueError(f"permute_channels: {error}") from None
    return dataset


def make_corruption(config):
    """The corruption of `config.task` (None for compress and variational)."""
    if config.task == "denoise":
        # --noise_stddev is in units of [0, 1] images; the models see [-1, 1], twice as wide.
        return corruptions.GaussianNoise(2.0 * config.noise_stddev)
    if config.task == "inpaint":
        return corruptions.RandomMask(fraction=config.mask_fraction, patch_size=config.mask_patch)
    if config.task == "super_resolution":
        return corruptions.Downsample(config.factor, method="bicubic")
    if config.task == "deblur":
        return corruptions.GaussianBlur(config.blur_sigma)
    if config.task == "jpeg":
        try:
            return corruptions.JPEG(jpeg_quality(config.jpeg_quality))
        except ValueError as error:
            raise ValueError(f"jpeg_quality: {error}") from None
    if config.task in TASKS:
        return None
    raise ValueError(f"task must be one of {', '.join(TASKS)}, got {config.task!r}")


def jpeg_quality(value):
    """The `--jpeg_quality` setting as `corruptions.JPEG` takes it: an int, or "low-high" as a
    pair (an int or a digit string gives one quality)."""
    if isinstance(value, str):
        parts = value.split("-")
        if 1 <= len(parts) <= 2 and all(p.strip().isdigit() for p in parts):
            numbers = tuple(int(p) for p in parts)
            return numbers[0] if len(numbers) == 1 else numbers
        raise ValueError(
            f"jpeg_quality must be a quality in [1, 100] or a range 'low-high', got {value!r}"
        )
    return value


def build_autoencoder(config, image_shape):
    """The `Autoencoder` of `config` (a `ReconstructionSettings`), compiled as it says.

    Restoration tasks (`RESTORATION_TASKS`) train a U-Net on the degraded images (no encoder,
    no bottleneck); compress and variational a convolutional encoder and decoder. Call it
    inside the strategy's scope.
    """
    variational = config.task == "variational"
    if config.task in RESTORATION_TASKS:
        encoder = None
        # Inpainting: the network finds the holes by RandomMask's fill value (0), starts from
        # their blur fill and keeps the known pixels, so its loss falls on the holes alone.
        options = {}
        if config.task == "inpaint":
            if config.blur_fill < 0:
                raise ValueError(
                    f"blur_fill must be a sigma >= 0 (0: no fill), got {config.blur_fill!r}"
                )
            options = {"inpaint_fill": 0.0, "blur_fill": config.blur_fill or None}
        decoder = architectures.unet(image_shape, base_filters=config.base_filters, **options)
    else:
        encoder = architectures.conv_encoder(
            image_shape, config.latent_dim, variational, base_filters=config.base_filters
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
        optimizer=make_optimizer(config.optimizer, config.lr),
        jit_compile=jit_setting(config.jit_compile, config.deterministic),
    )
    return model
