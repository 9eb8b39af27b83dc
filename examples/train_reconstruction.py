r"""Trains an image-reconstruction model (denoising, inpainting, super-resolution, deblurring, JPEG
artefact removal, compression or a VAE) with `fit`.

    python examples/train_reconstruction.py                       # denoise the bundled digits
    python examples/train_reconstruction.py --task=inpaint --mask_fraction=0.3
    python examples/train_reconstruction.py --task=compress --latent_dim=16
    python examples/train_reconstruction.py --task=variational --kl_weight=0.5
    python examples/train_reconstruction.py --dataset=photos --image_size=32 --epochs=20
    python examples/train_reconstruction.py --task=super_resolution --factor=2 --dataset=photos
    python examples/train_reconstruction.py --task=deblur --blur_sigma=1.5 --dataset=photos
    python examples/train_reconstruction.py --task=jpeg --jpeg_quality=10-20 --dataset=photos

Tasks: `denoise` learns to remove Gaussian noise (--noise_stddev), `inpaint` to fill in masked
square patches (--mask_fraction, --mask_patch; the U-Net takes the holes as an input channel,
starts from their blur fill, a normalised convolution of --blur_fill pixels, and keeps the known
pixels), `super_resolution` (--factor, bicubic), `deblur` (--blur_sigma) and `jpeg`
(--jpeg_quality, one quality or a range, default 10-20: each image draws its own; run in the
input pipeline, as XLA cannot compile libjpeg; --permute_channels=0.5 shows half the
training images in a random channel order): these train a U-Net
(`tfgen.architectures.unet`, residual) on the degraded images at full size, and their
SavedModel serves the `restore` signature: `images` in [0, 1], degraded, of any height and width,
to restored `images` in [0, 1]. `compress` passes clean images through a --latent_dim
bottleneck, `variational` trains a VAE (Kingma & Welling 2014) whose decoder also generates
images from prior codes; their SavedModel decodes codes (see `tfgen.export.export_decoder`).

Outputs in --output_dir (default runs/reconstruction), laid out by `tfgen.runs` as for
examples/train_gan.py: sample grids (clean / model input / reconstruction of a fixed batch of
held-out images; prior samples for a VAE), losses.png and history.csv (loss, PSNR, SSIM, on
held-out images too when the dataset has a test split), TensorBoard logs, checkpoint.keras,
backup/ for --resume, autoencoder.keras and the SavedModel of `tfgen.export.export_decoder`.
"""

from __future__ import annotations

import dataclasses
import functools
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # Read once, when TensorFlow is imported.

from absl import app  # noqa: E402

import tfgen  # noqa: E402
from tfgen import runs  # noqa: E402
from tfgen.runs import reconstruction  # noqa: E402

#: The settings, the flags of this script (`tfgen.runs.reconstruction.ReconstructionSettings`).
Config = reconstruction.ReconstructionSettings


def train(config=None, callbacks=(), distribute_strategy=None, **settings):
    """Trains a reconstruction model as `config` (a `Config`) or the keyword `settings` say.

    Arguments, result and errors as for `train_gan.train`.
    """
    config = dataclasses.replace(config or Config(), **settings)
    strategy = distribute_strategy or runs.make_strategy(config.strategy)  # Before other TF work.
    runs.set_random_seed(config.seed, config.deterministic)  # Before the data: its shuffle.
    run = runs.Run.from_settings(config, "autoencoder.keras", reconstruction.RESUME_KEYS)
    variational = config.task == "variational"
    load = dict(
        image_size=config.image_size, channels=config.channels, batch_size=config.batch_size
    )
    # A function, so that a run resumed inside an epoch reads a fresh copy of the stream.
    make_dataset = functools.partial(reconstruction.training_data, config, **load)
    dataset = make_dataset()
    held_out = runs.held_out_split(config.dataset, **load) if config.validation else None
    with runs.dtype_policy(config.mixed_precision):
        image_shape = tuple(dataset.element_spec.shape[1:])
        with strategy.scope():
            model = reconstruction.build_autoencoder(config, image_shape)
        grids = dict(every_n_epochs=config.sample_every, seed=config.seed)
        grids.update(tensorboard_dir=run.path("logs"))
        if variational:
            grid = tfgen.callbacks.SampleGrid(
                run.output_dir, latent_batch=max(config.samples, 16), **grids
            )
        else:
            fixed = runs.first_images(held_out if held_out is not None else dataset, config.samples)
            grid = tfgen.callbacks.ReconstructionGrid(run.output_dir, fixed, **grids)
        return run.fit(
            model,
            make_dataset,
            epochs=config.epochs,
            steps_per_epoch=config.steps,
            validation_data=held_out,
            callbacks=[grid, *callbacks],
            export=tfgen.export.export_decoder,
            title=config.task,
            verbose=config.verbose,
        )


main = runs.absl_main(train, Config)


if __name__ == "__main__":
    runs.define_flags(Config)
    app.run(main)
