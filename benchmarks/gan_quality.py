"""Sample quality of tfgen's GAN against the keras-io reference in the same wall-clock budget.

Both train the same DCGAN networks on the bundled 8x8 digits. Quality is the Fréchet distance
(Heusel et al. 2017) between generated and held-out real digits in the feature space of a small
classifier trained on the digits' training split; real training digits and uniform noise give
the scale.

    python benchmarks/gan_quality.py [--seconds 40] [--runs 3] [--image_size 8]
"""

import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import scipy.linalg  # noqa: E402
from absl import app, flags  # noqa: E402
from reference_gan import ReferenceGAN  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

import tfgen.data  # noqa: E402
from tfgen import architectures  # noqa: E402
from tfgen.models import GAN  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_float("seconds", 40.0, "Training budget of each GAN, in seconds of wall clock.")
flags.DEFINE_integer("image_size", 8, "Side of the digits the GANs make.")
flags.DEFINE_integer("batch_size", 64, "Batch size of both GANs.")
flags.DEFINE_integer("latent_dim", 32, "Latent code size.")
flags.DEFINE_integer("base_filters", 32, "Width of both networks.")
flags.DEFINE_integer("samples", 1000, "Generated samples scored per model.")
flags.DEFINE_integer("seed", 0, "Seed of the classifier; GAN runs use seeds 0..runs-1.")
flags.DEFINE_integer("runs", 3, "Training runs (seeds) of each GAN; the distance varies a lot.")


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


def feature_extractor(images, labels):
    """A small convolutional classifier of the digits; its penultimate layer gives features."""
    keras.utils.set_random_seed(FLAGS.seed)
    inputs = keras.Input(images.shape[1:])
    x = keras.layers.Conv2D(32, 3, padding="same", activation="relu")(inputs)
    x = keras.layers.Conv2D(32, 3, strides=2, padding="same", activation="relu")(x)
    x = keras.layers.Flatten()(x)
    features = keras.layers.Dense(32, activation="relu", name="features")(x)
    outputs = keras.layers.Dense(10)(features)
    classifier = keras.Model(inputs, outputs)
    classifier.compile(
        "adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"]
    )
    classifier.fit(images, labels, epochs=30, batch_size=64, verbose=0)
    return keras.Model(inputs, features), classifier


def frechet_distance(a, b):
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = scipy.linalg.sqrtm(cov_a @ cov_b).real
    return float(np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a + cov_b - 2 * root))


def networks(seed):
    keras.utils.set_random_seed(seed)
    shape = (FLAGS.image_size, FLAGS.image_size, 1)
    return (
        architectures.dcgan_generator(shape, FLAGS.latent_dim, FLAGS.base_filters),
        architectures.dcgan_discriminator(shape, FLAGS.base_filters),
    )


def main(_):
    train_images, test_images = digits("train"), digits("test")
    # The bundled digits keep scikit-learn's order: the first 1,500 train, the rest test.
    targets = load_digits().target
    labels, test_labels = targets[: len(train_images)], targets[len(train_images) :]
    features, classifier = feature_extractor(train_images, labels)
    accuracy = classifier.evaluate(test_images, test_labels, verbose=0)[1]
    real_features = features.predict(test_images, verbose=0)

    def score(images_in_minus_one_one):
        return frechet_distance(features.predict(images_in_minus_one_one, verbose=0), real_features)

    rng = np.random.default_rng(FLAGS.seed)
    noise = rng.uniform(-1, 1, (FLAGS.samples,) + test_images.shape[1:]).astype(np.float32)
    print(f"feature classifier: {accuracy:.3f} accuracy on the held-out digits")
    print(f"real training digits: {score(train_images):.3f}   uniform noise: {score(noise):.2f}")

    distances = {"keras-io reference": [], "tfgen GAN defaults": []}
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
            samples = model.generate(FLAGS.samples, seed=run) * 2 - 1
            distances[name].append(score(samples))
            print(
                f"run {run}: {name:20s} {budget.steps:6d} steps in {FLAGS.seconds:.0f} s   "
                f"Fréchet distance {distances[name][-1]:.2f}"
            )
    for name, values in distances.items():
        print(f"{name:20s} mean Fréchet distance {np.mean(values):.2f} +- {np.std(values):.2f}")


if __name__ == "__main__":
    app.run(main)
