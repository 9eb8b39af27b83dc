r"""Reconstructs images through a trained generator (GAN inversion) and draws them side by side.

    python examples/reconstruct.py --model=runs/gan/gan.keras
    python examples/reconstruct.py --model=runs/gan/gan.keras --method=nesterov --steps=300 \
        --mask_fraction=0.3 --images=/data/my_digits --output=runs/gan/inpainting.png

For each image x it finds the latent code z minimising the mean squared (or absolute) error
between G(z) and x, with the solver --method ("conjugate_gradient", "nesterov" or "adam";
see `tfgen.reconstruct.invert`), and writes a figure with one row each of the originals, the
known pixels (with --mask_fraction > 0, the pixels hidden from the solver are shown grey),
and the reconstructions G(z). The generator fills hidden pixels in from what it learnt:
inpainting with the generator as the image prior.

--model is a `.keras` file or, with --trust_saved_model, a SavedModel export (a program: see
`tfgen.export.load_generator`).
--images is a folder of image files, or (default) the test split of the bundled dataset the
model was trained on (`--dataset`, default "digits").
"""

from __future__ import annotations

import dataclasses
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # Read once, when TensorFlow is imported.

import numpy as np  # noqa: E402
from absl import app  # noqa: E402

import tfgen  # noqa: E402
from tfgen import corruptions, plot, runs  # noqa: E402
from tfgen.runs import setting  # noqa: E402

# Most images reconstructed: each is a column of the figure.
MAX_COUNT = 256


@dataclasses.dataclass
class Config:
    """The settings of a run; the fields are the flags of this script."""

    model: str = setting(
        "runs/gan/gan.keras",
        "A .keras file (a trained GAN from examples/train_gan.py, a VAE or a generator) or a "
        "SavedModel directory exported by tfgen.export.",
    )
    trust_saved_model: bool = setting(
        False,
        "Load a SavedModel --model: it is a program that runs whatever ops it holds, so only one "
        "from a source you trust (a .keras file loads with safe_mode and needs no trust).",
    )
    images: str | None = setting(
        None, "Folder of image files to reconstruct; default the test split of --dataset.", kind=str
    )
    dataset: str = setting("digits", "Dataset whose test split is used without --images.")
    count: int = setting(8, "Number of images to reconstruct.")
    method: str = setting(
        "conjugate_gradient",
        "Solver of the inversion.",
        choices=tfgen.reconstruct.INVERSION_METHODS,
    )
    steps: int = setting(100, "Solver iterations.")
    loss: str = setting(
        "l2", "Error between G(z) and the image.", choices=tfgen.reconstruct.INVERSION_LOSSES
    )
    restarts: int = setting(1, "Random initial codes per image.")
    mask_fraction: float = setting(
        0.0, "Probability that a pixel is hidden from the solver (inpainting); 0 hides none."
    )
    mask_patch: int = setting(corruptions.pixels.DEFAULT_MASK_PATCH, "Side of the hidden squares.")
    seed: int = setting(0, "Seed of the initial codes and of the mask.")
    output: str | None = setting(
        None,
        "PNG file of the figure; default reconstruction_<method>.png beside --model.",
        kind=str,
    )


@dataclasses.dataclass
class ReconstructionResult:
    """The figure written, the images (in [0, 1]) and each image's final error."""

    figure: str
    originals: object
    reconstructions: object
    errors: object
    function_evaluations: int


def reconstruct(config=None, **settings):
    """Inverts the generator of `config.model` on the images; writes and returns the figure.

    Returns a `ReconstructionResult`; raises ValueError for a bad setting or a missing model.
    """
    config = dataclasses.replace(config or Config(), **settings)
    if isinstance(config.count, bool) or not isinstance(config.count, int):
        raise ValueError(f"count must be an int, got {config.count!r}")
    if not 1 <= config.count <= MAX_COUNT:
        raise ValueError(
            f"count must lie in [1, {MAX_COUNT}] (one figure column each), got {config.count}"
        )
    masking = corruptions.RandomMask(config.mask_fraction, patch_size=config.mask_patch)
    generator = tfgen.export.load_generator(config.model, config.trust_saved_model)
    runs.set_random_seed(config.seed)
    image_shape = tuple(int(d) for d in generator.outputs[0].shape[1:])
    source = f"folder:{config.images}" if config.images else config.dataset
    dataset = tfgen.data.load(
        source,
        split="train" if config.images else "test",
        image_size=image_shape[:2],
        channels=image_shape[2],
        batch_size=config.count,
        shuffle=False,
        drop_remainder=False,
    )
    images = runs.first_images(dataset, config.count)
    if len(images) < config.count:
        raise ValueError(f"count={config.count}, but {source} holds only {len(images)} images")
    mask = None
    if config.mask_fraction > 0:
        mask = np.asarray(masking.mask(images, seed=config.seed))
    result = tfgen.reconstruct.invert(
        generator,
        images,
        method=config.method,
        steps=config.steps,
        loss=config.loss,
        mask=mask,
        restarts=config.restarts,
        seed=config.seed,
    )
    originals = tfgen.images.to_unit_range(images, clip=False)
    reconstructions = tfgen.images.to_unit_range(result.reconstructions)
    rows = [originals]
    if mask is not None:
        rows.append(originals * mask + 0.5 * (1.0 - mask))  # Hidden pixels drawn grey.
    rows.append(reconstructions)
    output = config.output or os.path.join(
        os.path.dirname(os.path.abspath(config.model)), f"reconstruction_{config.method}.png"
    )
    known = "known pixels / " if mask is not None else ""
    title = f"{config.method}: originals / {known}reconstructions"
    plot.image_grid(np.concatenate(rows), output, columns=len(images), title=title)
    print(
        f"Reconstructed {len(images)} images with {config.method} "
        f"({result.function_evaluations} generator evaluations); mean {config.loss} error "
        f"{float(np.mean(result.errors)):.4f}. Figure: {output}",
        flush=True,
    )
    return ReconstructionResult(
        output, originals, reconstructions, result.errors, result.function_evaluations
    )


main = runs.absl_main(reconstruct, Config)


if __name__ == "__main__":
    runs.define_flags(Config)
    app.run(main)
