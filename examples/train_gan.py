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
from tfgen import runs  # noqa: E402
from tfgen.runs import gan as gan_run  # noqa: E402

#: The settings, the flags of this script (`tfgen.runs.gan.GANSettings`).
Config = gan_run.GANSettings


def train(config=None, callbacks=(), distribute_strategy=None, **settings):
    """Trains a GAN as `config` (a `Config`) or the keyword `settings` (flag names) say.

    `callbacks` run after the run's own; `distribute_strategy` replaces the one
    `config.strategy` names. Returns a `tfgen.runs.RunResult`; raises ValueError for a bad
    setting (before output_dir is touched) and RuntimeError when training diverged.
    """
    config = dataclasses.replace(config or Config(), **settings)
    strategy = distribute_strategy or runs.make_strategy(config.strategy)  # Before other TF work.
    runs.set_random_seed(config.seed, config.deterministic)  # Before the data: its shuffle.
    run = runs.Run.from_settings(config, "gan.keras", gan_run.RESUME_KEYS)
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
        with strategy.scope():
            gan = gan_run.build_gan(config, tuple(images_spec.shape[1:]), num_classes)
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
            evaluation=gan_run.evaluation_callbacks(config, run),
        )


main = runs.absl_main(train, Config)


if __name__ == "__main__":
    runs.define_flags(Config)
    app.run(main)
