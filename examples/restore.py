r"""Restores one image with the deep image prior: no training data, no trained model.

    python examples/restore.py                                     # a noisy bundled photograph
    python examples/restore.py --task=inpaint --mask_fraction=0.3
    python examples/restore.py --task=super_resolution --factor=4 --steps=1500
    python examples/restore.py --image=my_noisy.png --nocorrupt --size=128

An untrained U-Net is fitted to the one degraded image and stopped after --steps
(`tfgen.reconstruct.deep_image_prior`, Ulyanov et al. 2018). By default the script degrades a
clean image itself (Gaussian noise of --noise_stddev on [0, 1], --mask_fraction of the pixels
hidden in --mask_patch squares, or bicubic downsampling by --factor) and reports the PSNR of the
degraded and restored images against it; with --nocorrupt the image given is the degraded one
(noisy for `denoise`, low-resolution for `super_resolution`, which is upsampled by --factor).

--image is an image file or the name of a bundled photograph (`tfgen.images.photo_names()`;
`photo:NAME` means the same); `tfgen.images.load_image` cuts it to its central square and
resizes it to --size pixels a side (antialiased bilinear). The figure (degraded / restored /
clean) goes to --output.
"""

from __future__ import annotations

import dataclasses
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # Read once, when TensorFlow is imported.

import numpy as np  # noqa: E402
from absl import app  # noqa: E402

import tfgen  # noqa: E402
from tfgen import corruptions, images, losses, plot, runs  # noqa: E402
from tfgen.runs import setting  # noqa: E402

TASKS = ("denoise", "inpaint", "super_resolution")
# Largest side: the prior's network holds dozens of feature maps of the image's size.
MAX_SIZE = 2048


@dataclasses.dataclass
class Config:
    """The settings of a run; the fields are the flags of this script."""

    image: str = setting(
        "grace_hopper",
        f"Image file, or a bundled photograph: {', '.join(images.photo_names())}.",
    )
    size: int = setting(64, "Side of the square the image is brought to, in pixels.")
    task: str = setting("denoise", "What to undo.", choices=TASKS)
    corrupt: bool = setting(True, "Degrade the image first (and report PSNR against it).")
    noise_stddev: float = setting(0.1, "denoise: noise standard deviation on [0, 1] images.")
    mask_fraction: float = setting(
        corruptions.pixels.DEFAULT_MASK_FRACTION, "inpaint: probability that a pixel is hidden."
    )
    mask_patch: int = setting(
        corruptions.pixels.DEFAULT_MASK_PATCH, "inpaint: side of the hidden squares."
    )
    factor: int = setting(2, "super_resolution: downsampling factor (bicubic).")
    steps: int = setting(1000, "Optimisation steps: the early stopping of the prior.")
    seed: int = setting(0, "Seed of the network, its input and the degradation.")
    output: str = setting("runs/restore.png", "PNG file of the figure.")


@dataclasses.dataclass
class RestoreResult:
    """The figure written, the images in [0, 1] and the PSNR (dB) of the prior's outputs along
    the way (`DeepImagePriorResult.psnr`; empty without a clean image)."""

    figure: str
    degraded: np.ndarray
    restored: np.ndarray
    psnr: dict


def restore(config=None, **settings):
    """Degrades (unless --nocorrupt) and restores the image; writes and returns the figure."""
    config = dataclasses.replace(config or Config(), **settings)
    if config.task == "inpaint" and not config.corrupt:
        raise ValueError("task inpaint needs corrupt=True: the mask of a given image is unknown")
    if isinstance(config.size, bool) or not isinstance(config.size, int):
        raise ValueError(f"size must be an int, got {config.size!r}")
    if not 1 <= config.size <= MAX_SIZE:
        raise ValueError(f"size must lie in [1, {MAX_SIZE}] pixels, got {config.size}")
    image = images.load_image(config.image, config.size)
    batch = images.to_model_range(image[None])
    mask = operator = clean = None
    if config.task == "super_resolution":
        operator = corruptions.Downsample(config.factor)
        if not config.corrupt:  # the image is the low-resolution one: bicubic up to full size
            upsampled = images.resize(image, config.size * config.factor, method="bicubic")
            batch = images.to_model_range(np.clip(upsampled, 0.0, 1.0)[None])
    if config.corrupt:
        clean = image
        if config.task == "denoise":
            batch = corruptions.GaussianNoise(2.0 * config.noise_stddev)(batch, config.seed)
        elif config.task == "inpaint":
            masking = corruptions.RandomMask(config.mask_fraction, config.mask_patch)
            mask = masking.mask(batch, config.seed).numpy()[0]
            batch = masking(batch, config.seed)
        else:
            batch = operator(batch)
    degraded = images.to_unit_range(np.asarray(batch)[0], clip=False)
    result = tfgen.reconstruct.deep_image_prior(
        degraded, corruption=operator, mask=mask, steps=config.steps, clean=clean, seed=config.seed
    )
    restored = result.image if mask is None else mask * degraded + (1 - mask) * result.image
    rows = [degraded, restored] + ([clean] if clean is not None else [])
    plot.image_grid(np.stack(rows), config.output, columns=len(rows), title=config.task)
    summary = ""
    if clean is not None:
        scores = losses.psnr(images.to_model_range(clean[None]), images.to_model_range(rows[:2]))
        before, after = scores.numpy()
        summary = f"; PSNR {before:.2f} dB degraded -> {after:.2f} dB restored"
    print(
        f"Restored {config.image} ({config.task}, {config.steps} steps){summary}. "
        f"Figure: {config.output}",
        flush=True,
    )
    return RestoreResult(config.output, degraded, restored, result.psnr)


main = runs.absl_main(restore, Config)


if __name__ == "__main__":
    runs.define_flags(Config)
    app.run(main)
