"""Trains the digits classifier behind `tfgen.metrics.digits_features`, reproducibly.

    python -m tfgen.metrics.train_digits [--output PATH] [--epochs 40] [--seed 0]

The data are the bundled digits (scikit-learn's 1,797 8x8 digits, the source of
`tfgen.data.load("digits")`, with the same uint8 rounding and the same seeded random split,
`tfgen.data.builders.digits_split_indices`: 1,500 train, 297 held out). Images go through the
extractor's own preprocessing (resize to 16 x 16, antialiased bilinear, values in [-1, 1]);
training adds random shifts of up to one pixel of the 8x8 original so that the features do not
hinge on exact alignment. Seeds are fixed and TensorFlow's deterministic ops are on, so a run on
the same software writes the same weights. The held-out accuracy is printed; without
`--output` the shipped file is replaced.
"""

import os

import keras
import numpy as np
import tensorflow as tf
from absl import app, flags
from sklearn.datasets import load_digits

from tfgen import _files
from tfgen.data.builders import digits_split_indices
from tfgen.metrics import features
from tfgen.optimizers import adam


def digits_images():
    """All 1,797 digits as float32 in [-1, 1], (n, 8, 8, 1), and their labels."""
    digits = load_digits()
    images = np.rint(digits.images * (255.0 / 16.0)).astype(np.uint8)[..., None]
    return images.astype(np.float32) / 127.5 - 1.0, digits.target.astype(np.int64)


def train(output=None, epochs=40, seed=0, verbose=0):
    """Trains the classifier, saves its weights to `output`; returns the held-out accuracy."""
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    images, labels = digits_images()
    extractor = features.FeatureExtractor(
        lambda x: x, features.DIGITS_IMAGE_SIZE, channels=1, name="resize"
    )
    resized = extractor.preprocess(images).numpy()
    split = digits_split_indices(len(images))
    train_x, test_x = resized[split["train"]], resized[split["test"]]
    train_y, test_y = labels[split["train"]], labels[split["test"]]

    network = features.digits_classifier_network(seed)
    shift = 1.0 / 8.0  # one pixel of the 8x8 original, as a fraction of the side
    augment = keras.layers.RandomTranslation(
        shift, shift, fill_mode="constant", fill_value=-1.0, seed=seed
    )
    inputs = keras.Input(network.input_shape[1:])
    model = keras.Model(inputs, network(augment(inputs)))
    model.compile(
        keras.optimizers.Adam(adam.DEFAULT_LEARNING_RATE),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    model.fit(train_x, train_y, batch_size=64, epochs=epochs, shuffle=True, verbose=verbose)
    network.compile(metrics=["accuracy"], loss=keras.losses.SparseCategoricalCrossentropy(True))
    _, accuracy = network.evaluate(test_x, test_y, verbose=0)
    output = output or features.digits_weights_path()
    with _files.replaced_atomically(output, suffix=".weights.h5") as staging:
        network.save_weights(staging)
    return float(accuracy)


def main(_):
    flag_values = flags.FLAGS
    accuracy = train(flag_values.output, flag_values.epochs, flag_values.seed)
    path = flag_values.output or features.digits_weights_path()
    held_out = len(digits_split_indices()["test"])
    print(f"held-out accuracy {accuracy:.4f} on {held_out} digits")
    print(f"weights: {path} ({os.path.getsize(path) / 1024:.0f} KiB)")


if __name__ == "__main__":
    flags.DEFINE_string("output", None, "Weights file to write; default the shipped one.")
    flags.DEFINE_integer("epochs", 40, "Training epochs.")
    flags.DEFINE_integer("seed", 0, "Seed of weights, shuffling, dropout and shifts.")
    app.run(main)
