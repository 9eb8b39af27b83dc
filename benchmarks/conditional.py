"""Conditional generation and differentiable augmentation on the bundled 8x8 digits.

1. Class fidelity: a conditional GAN (projection discriminator, conditional batch norm) trains on
   the 1,500 training digits with their labels; a small classifier trained on the same real
   training digits (its accuracy on the 297 held-out digits is printed beside) labels
   generated digits, and the share it assigns to the requested class is reported.
2. DiffAugment: unconditional GANs train on 10 % and on 100 % of the training digits, with and
   without `augment="color,translation,cutout"`; the Fréchet distance (Heusel et al. 2017) of
   their samples to the held-out digits is measured in the classifier's feature space, as
   benchmarks/gan_quality.py does.

Runs are counted in steps (not seconds), so runs compare whatever the machine's load.

    python benchmarks/conditional.py [--steps 1500] [--seeds 2]
"""

import _common
import keras
import numpy as np
import tensorflow as tf
from _common import frechet_distance
from absl import flags

import tfgen.data
from tfgen import architectures
from tfgen.models import GAN

FLAGS = flags.FLAGS
flags.DEFINE_integer("steps", 1500, "Training steps of each GAN.")
flags.DEFINE_integer("seeds", 2, "Training runs (seeds 0..seeds-1) of each setting.")
flags.DEFINE_integer("batch_size", 64, "Batch size of every GAN.")
flags.DEFINE_integer("latent_dim", 32, "Latent code size.")
flags.DEFINE_integer("base_filters", 32, "Width of both networks.")
flags.DEFINE_integer("samples", 1000, "Generated samples scored per model.")
flags.DEFINE_list("fractions", ["0.1", "1.0"], "Shares of the training digits for DiffAugment.")
flags.DEFINE_string("augment", "color,translation,cutout", "DiffAugment policy compared.")
flags.DEFINE_integer("classifier_epochs", 30, "Training epochs of the digit classifier.")
flags.DEFINE_enum("part", "both", ["both", "conditional", "augment"], "Which measurement to run.")

SIDE, CLASSES = 8, 10


def labelled_digits(split):
    """All digits of a split, images in [-1, 1] and int labels, in the stored order."""
    dataset = tfgen.data.load(
        "digits", split=split, batch_size=1, shuffle=False, with_labels=True
    ).unbatch()
    images, labels = zip(*((x.numpy(), y.numpy()) for x, y in dataset), strict=True)
    return np.stack(images), np.array(labels, np.int64)


def classifier(images, labels):
    """A small convolutional digit classifier and its 32-d penultimate features."""
    keras.utils.set_random_seed(1234)
    inputs = keras.Input(images.shape[1:])
    x = keras.layers.Conv2D(32, 3, padding="same", activation="relu")(inputs)
    x = keras.layers.Conv2D(32, 3, strides=2, padding="same", activation="relu")(x)
    x = keras.layers.Flatten()(x)
    features = keras.layers.Dense(32, activation="relu", name="features")(x)
    model = keras.Model(inputs, keras.layers.Dense(CLASSES)(features))
    model.compile(
        "adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"]
    )
    model.fit(images, labels, epochs=FLAGS.classifier_epochs, batch_size=64, verbose=0)
    return model, keras.Model(inputs, features)


def train_gan(images, labels, seed, augment=None):
    """A DCGAN (conditional when `labels` is given) trained for FLAGS.steps steps."""
    keras.utils.set_random_seed(seed)
    num_classes = None if labels is None else CLASSES
    shape = (SIDE, SIDE, 1)
    gan = GAN(
        architectures.dcgan_generator(
            shape, FLAGS.latent_dim, FLAGS.base_filters, num_classes=num_classes
        ),
        architectures.dcgan_discriminator(shape, FLAGS.base_filters, num_classes=num_classes),
        seed=seed,
        num_classes=num_classes,
    )
    gan.compile(augment=augment)
    elements = images if labels is None else (images, labels)
    dataset = (
        tf.data.Dataset.from_tensor_slices(elements)
        .shuffle(len(images), seed=seed)
        .repeat()
        .batch(FLAGS.batch_size, drop_remainder=True)
    )
    gan.fit(dataset, epochs=1, steps_per_epoch=FLAGS.steps, verbose=0)
    return gan


def measure_conditional(train, test, model):
    images, labels = train
    per_class = FLAGS.samples // CLASSES
    requested = np.repeat(np.arange(CLASSES), per_class)
    shares = []
    for seed in range(FLAGS.seeds):
        gan = train_gan(images, labels, seed)
        generated = gan.generate(len(requested), labels=requested, seed=seed) * 2 - 1
        predicted = np.argmax(model.predict(generated, verbose=0), axis=1)
        shares.append(float(np.mean(predicted == requested)))
        worst = min(range(CLASSES), key=lambda c: np.mean(predicted[requested == c] == c))
        print(
            f"seed {seed}: {shares[-1]:.3f} of generated digits classified as requested "
            f"(worst class {worst}: {np.mean(predicted[requested == worst] == worst):.2f})"
        )
    print(
        f"conditional GAN, {FLAGS.steps} steps: share of the requested class "
        f"{np.mean(shares):.3f} +- {np.std(shares):.3f} (chance {1 / CLASSES:.2f})"
    )


def measure_augment(train, test, features):
    images, _ = train
    real_features = features.predict(test[0], verbose=0)
    rng = np.random.default_rng(0)
    for fraction in (float(f) for f in FLAGS.fractions):
        subset = images[rng.permutation(len(images))[: int(round(fraction * len(images)))]]
        results = {}
        for augment in (None, FLAGS.augment):
            distances = []
            for seed in range(FLAGS.seeds):
                gan = train_gan(subset, None, seed, augment=augment)
                generated = gan.generate(FLAGS.samples, seed=seed) * 2 - 1
                distances.append(
                    frechet_distance(features.predict(generated, verbose=0), real_features)
                )
            results[augment or "none"] = distances
            print(
                f"{len(subset):5d} digits, augment={augment or 'none':24s} Fréchet distance "
                + " ".join(f"{d:.2f}" for d in distances)
                + f"   mean {np.mean(distances):.2f}"
            )
        ratio = np.mean(results[FLAGS.augment]) / np.mean(results["none"])
        print(f"{len(subset):5d} digits: augmented / plain Fréchet distance = {ratio:.2f}")


def main(_):
    train, test = labelled_digits("train"), labelled_digits("test")
    model, features = classifier(*train)
    accuracy = model.evaluate(*test, verbose=0)[1]
    print(f"classifier: {accuracy:.3f} accuracy on the {len(test[0])} held-out real digits")
    train_features, test_features = (features.predict(x, verbose=0) for x in (train[0], test[0]))
    distance = frechet_distance(train_features, test_features)
    print(f"real training digits vs held-out: Fréchet distance {distance:.2f}")
    if FLAGS.part in ("both", "conditional"):
        measure_conditional(train, test, model)
    if FLAGS.part in ("both", "augment"):
        measure_augment(train, test, features)


if __name__ == "__main__":
    _common.run(main)
