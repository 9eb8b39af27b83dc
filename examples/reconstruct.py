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

--model is a `.keras` file holding a `tfgen.models.GAN` (its moving-average generator is used
when it has one), a VAE or any other model with a `decoder`, or a generator model itself; or
the SavedModel directory written by `tfgen.export` (e.g. runs/gan/saved_model).
--images is a folder of image files, or (default) the test split of the bundled dataset the
model was trained on (`--dataset`, default "digits").
"""

from __future__ import annotations

import dataclasses
import os
import sys

from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train_gan as common  # noqa: E402  (the sibling script's shared helpers)

METHODS = ("conjugate_gradient", "nesterov", "adam")
LOSSES = ("l2", "l1")


@dataclasses.dataclass
class Config:
    """The settings of a run; the fields are the flags of this script (see their help)."""

    model: str = "runs/gan/gan.keras"
    images: str | None = None
    dataset: str = "digits"
    count: int = 8
    method: str = "conjugate_gradient"
    steps: int = 100
    loss: str = "l2"
    restarts: int = 1
    mask_fraction: float = 0.0
    mask_patch: int = 4
    seed: int = 0
    output: str | None = None

    def check(self):
        """Raises ValueError naming the first bad setting, the value and what is allowed."""
        if not isinstance(self.model, str) or not (
            self.model.endswith(".keras") or _is_saved_model(self.model)
        ):
            raise ValueError(
                "model must be a .keras file or a SavedModel directory written by "
                f"tfgen.export, got {self.model!r}"
            )
        if not os.path.exists(self.model):
            raise ValueError(
                f"model {self.model!r} does not exist: train one first "
                "(python examples/train_gan.py) or pass --model"
            )
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}, got {self.method!r}")
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {', '.join(LOSSES)}, got {self.loss!r}")
        for name in ("count", "steps", "restarts", "mask_patch"):
            common._positive_int(getattr(self, name), name)
        if not isinstance(self.mask_fraction, int | float) or not 0 <= self.mask_fraction < 1:
            raise ValueError(
                f"mask_fraction must be a number in [0, 1), got {self.mask_fraction!r}"
            )
        if self.images is not None and not os.path.isdir(self.images):
            raise ValueError(f"images must be a folder of image files, got {self.images!r}")


@dataclasses.dataclass
class ReconstructionResult:
    """The figure written, the images (in [0, 1]) and each image's final error."""

    figure: str
    originals: object
    reconstructions: object
    errors: object
    function_evaluations: int


def _is_saved_model(path):
    return os.path.isfile(os.path.join(path, "saved_model.pb"))


def load_generator(path):
    """The generator of a `.keras` file (loaded with safe_mode on) or of a SavedModel export.

    From a `.keras` file: a GAN's sampling generator, a reconstruction model's decoder, or the
    file's model itself. From a SavedModel written by `tfgen.export`: its `serving_default`
    signature (codes -> images in [0, 1]) wrapped as a Keras model with outputs in [-1, 1];
    gradients flow through it, so it can be inverted like the original.
    """
    import keras

    if _is_saved_model(path):
        import tensorflow as tf

        signature = tf.saved_model.load(path).signatures["serving_default"]
        spec = signature.structured_input_signature[1]["z"]
        codes = keras.Input(shape=tuple(spec.shape[1:]), name="z")
        served = keras.layers.TFSMLayer(path, call_endpoint="serving_default")(codes)
        return keras.Model(codes, served["images"] * 2.0 - 1.0, name="exported_generator")

    import tfgen.models  # noqa: F401  (registers the tfgen classes for deserialisation)
    import tfgen.models.autoencoder  # noqa: F401

    model = keras.saving.load_model(path, safe_mode=True, compile=False)
    for attribute in ("sampling_generator", "generator", "decoder"):
        network = getattr(model, attribute, None)
        if isinstance(network, keras.Model):
            return network
    return model


def load_images(config, image_shape):
    """`config.count` images in [-1, 1] of `image_shape`, from the folder or the test split."""
    import numpy as np

    import tfgen.data

    name = f"folder:{config.images}" if config.images else config.dataset
    split = "train" if config.images else "test"
    dataset = tfgen.data.load(
        name,
        split=split,
        image_size=image_shape[:2],
        channels=image_shape[2],
        batch_size=config.count,
        shuffle=False,
        drop_remainder=False,
    )
    batches, total = [], 0
    for batch in dataset:
        batches.append(np.asarray(batch))
        total += len(batches[-1])
        if total >= config.count:
            break
    return np.concatenate(batches)[: config.count]


def reconstruct(config=None, **settings):
    """Inverts the generator of `config.model` on the images; writes and returns the figure.

    Returns:
        A `ReconstructionResult`.

    Raises:
        ValueError: a bad setting, a missing model or images of the wrong kind.
    """
    config = dataclasses.replace(config or Config(), **settings)
    config.check()

    import keras
    import numpy as np

    from tfgen import corruptions, plot
    from tfgen.reconstruct import invert

    keras.utils.set_random_seed(config.seed)
    generator = load_generator(config.model)
    image_shape = tuple(int(d) for d in generator.outputs[0].shape[1:])
    images = load_images(config, image_shape)
    mask = None
    if config.mask_fraction > 0:
        masking = corruptions.RandomMask(config.mask_fraction, patch_size=config.mask_patch)
        mask = np.asarray(masking.mask(images, seed=config.seed))
    result = invert(
        generator,
        images,
        method=config.method,
        steps=config.steps,
        loss=config.loss,
        mask=mask,
        restarts=config.restarts,
        seed=config.seed,
    )
    originals = (images + 1.0) / 2.0
    reconstructions = np.clip((result.reconstructions + 1.0) / 2.0, 0.0, 1.0)
    rows = [originals]
    if mask is not None:
        rows.append(originals * mask + 0.5 * (1.0 - mask))  # Hidden pixels drawn grey.
    rows.append(reconstructions)
    output = config.output or os.path.join(
        os.path.dirname(os.path.abspath(config.model)), f"reconstruction_{config.method}.png"
    )
    title = (
        f"{config.method}: originals / "
        + ("known pixels / " if mask is not None else "")
        + "reconstructions"
    )
    plot.image_grid(np.concatenate(rows), output, columns=len(images), title=title)
    print(
        f"Reconstructed {len(images)} images with {config.method} "
        f"({result.function_evaluations} generator evaluations); mean {config.loss} error "
        f"{float(np.mean(result.errors)):.4f}. Figure: {output}",
        flush=True,
    )
    return ReconstructionResult(
        figure=output,
        originals=originals,
        reconstructions=reconstructions,
        errors=result.errors,
        function_evaluations=result.function_evaluations,
    )


def define_flags(flag_values=flags.FLAGS):
    """Defines this script's flags on `flag_values`, with `Config`'s defaults."""
    d = Config()
    f = dict(flag_values=flag_values)
    flags.DEFINE_string(
        "model",
        d.model,
        "A .keras file (a trained GAN from examples/train_gan.py, a VAE or a generator) or a "
        "SavedModel directory exported by tfgen.export.",
        **f,
    )
    flags.DEFINE_string(
        "images",
        None,
        "Folder of image files to reconstruct; default the test split of --dataset.",
        **f,
    )
    flags.DEFINE_string(
        "dataset", d.dataset, "Dataset whose test split is used without --images.", **f
    )
    flags.DEFINE_integer("count", d.count, "Number of images to reconstruct.", **f)
    flags.DEFINE_enum("method", d.method, list(METHODS), "Solver of the inversion.", **f)
    flags.DEFINE_integer("steps", d.steps, "Solver iterations.", **f)
    flags.DEFINE_enum("loss", d.loss, list(LOSSES), "Error between G(z) and the image.", **f)
    flags.DEFINE_integer("restarts", d.restarts, "Random initial codes per image.", **f)
    flags.DEFINE_float(
        "mask_fraction",
        d.mask_fraction,
        "Probability that a pixel is hidden from the solver (inpainting); 0 hides none.",
        **f,
    )
    flags.DEFINE_integer("mask_patch", d.mask_patch, "Side of the hidden squares.", **f)
    flags.DEFINE_integer("seed", d.seed, "Seed of the initial codes and of the mask.", **f)
    flags.DEFINE_string(
        "output",
        None,
        "PNG file of the figure; default reconstruction_<method>.png beside --model.",
        **f,
    )


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {' '.join(argv[1:])}")
    try:
        reconstruct(common.config_from_flags(flags.FLAGS, Config))
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    define_flags()
    app.run(main)
