"""Sample quality of tfgen's GAN against the keras-io reference in the same wall-clock budget.

Both train the same DCGAN networks on the bundled 8x8 digits. Quality is measured with
`tfgen.metrics` in the features of the shipped digits classifier (`digits_features`): Fréchet
distance (FID), kernel distance (KID) and precision/recall of generated samples against the
held-out digits; real training digits and uniform noise give the scale.

    python benchmarks/gan_quality.py [--seconds 30] [--runs 2] [--image_size 8]
"""

import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402
from reference_gan import ReferenceGAN  # noqa: E402

import tfgen.data  # noqa: E402
import tfgen.metrics  # noqa: E402
from tfgen import architectures  # noqa: E402
from tfgen.models import GAN  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_float("seconds", 30.0, "Training budget of each GAN, in seconds of wall clock.")
flags.DEFINE_integer("image_size", 8, "Side of the digits the GANs make.")
flags.DEFINE_integer("batch_size", 64, "Batch size of both GANs.")
flags.DEFINE_integer("latent_dim", 32, "Latent code size.")
flags.DEFINE_integer("base_filters", 32, "Width of both networks.")
flags.DEFINE_integer("samples", 1000, "Generated samples scored per model.")
flags.DEFINE_integer("seed", 0, "Seed of the noise images.")
flags.DEFINE_integer("runs", 2, "Training runs (seeds) of each GAN; the distance varies a lot.")


class WallClockBudget(keras.callbacks.Callback):
    """Stops training once `seconds` have passed since training began."""

    def __init__(self, seconds):
        super().__init__()
        self.seconds = seconds

    def on_train_begin(self, logs=None):
        self.start, self.steps = time.perf_counter(), 0

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1
        if time.perf_counter() - self.start > self.seconds:
            self.model.stop_training = True


def digits(split):
    batches = tfgen.data.load(
        "digits", split=split, image_size=FLAGS.image_size, batch_size=1, shuffle=False
    )
    return np.concatenate([b.numpy() for b in batches])


def networks(seed):
    keras.utils.set_random_seed(seed)
    shape = (FLAGS.image_size, FLAGS.image_size, 1)
    return (
        architectures.dcgan_generator(shape, FLAGS.latent_dim, FLAGS.base_filters),
        architectures.dcgan_discriminator(shape, FLAGS.base_filters),
    )


KEYS = ("fid", "kid", "precision", "recall")


def main(_):
    train_images, test_images = digits("train"), digits("test")
    extractor = tfgen.metrics.digits_features()

    def score(images_in_minus_one_one):
        metrics = tfgen.metrics.default_metrics(extractor)
        for metric in metrics:
            metric.update_state(test_images, images_in_minus_one_one)
        scores = {}
        for metric in metrics:
            scores.update(tfgen.metrics.evaluation.results(metric))
        return scores

    def line(scores):
        return "  ".join(f"{key} {scores[key]:.4g}" for key in KEYS)

    rng = np.random.default_rng(FLAGS.seed)
    noise = rng.uniform(-1, 1, (FLAGS.samples,) + test_images.shape[1:]).astype(np.float32)
    print(f"real training digits: {line(score(train_images))}")
    print(f"uniform noise:        {line(score(noise))}")

    results = {"keras-io reference": [], "tfgen GAN defaults": []}
    for run in range(FLAGS.runs):
        dataset = tfgen.data.load(
            "digits", image_size=FLAGS.image_size, batch_size=FLAGS.batch_size, seed=run
        )
        generator, discriminator = networks(run)
        reference = ReferenceGAN(discriminator, generator, FLAGS.latent_dim)
        reference.compile()
        generator, discriminator = networks(run)
        gan = GAN(generator, discriminator, seed=run)
        gan.compile()
        for name, model in (("keras-io reference", reference), ("tfgen GAN defaults", gan)):
            budget = WallClockBudget(FLAGS.seconds)
            model.fit(dataset, epochs=100_000, verbose=0, callbacks=[budget])
            scores = score(model.generate(FLAGS.samples, seed=run) * 2 - 1)
            results[name].append(scores)
            print(f"run {run}: {name:20s} {budget.steps:6d} steps   {line(scores)}")
    for name, runs in results.items():
        summary = "  ".join(
            f"{key} {np.mean([r[key] for r in runs]):.4g} +- {np.std([r[key] for r in runs]):.2g}"
            for key in KEYS
        )
        print(f"{name:20s} {summary}")


if __name__ == "__main__":
    app.run(main)
