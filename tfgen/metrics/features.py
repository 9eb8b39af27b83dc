"""Feature extractors: images in [-1, 1] -> feature vectors, resizing and value range included.

Every extractor takes float images (batch, height, width, channels) in [-1, 1], tfgen's model
range, at any size, and returns float32 features (batch, feature_dim). What happens in between
is part of the extractor, so two scores made with one extractor are comparable:

- `digits_features()`: the 64-d penultimate layer (before its ReLU) of a small classifier of
  the bundled digits, shipped inside the package (`digits_classifier.weights.h5`, trained by
  `python -m tfgen.metrics.train_digits`). Images are converted to one channel (ITU-R BT.601
  luma), resized to 16 x 16 (antialiased bilinear, as `tfgen.data.load` resizes) and enter the
  network in [-1, 1]. `digits_classifier()` gives the same network's class probabilities (for
  `InceptionScore`).
- `inception_pool3(path)`: the network of the reference FID (Heusel et al. 2017, TTUR's
  `fid.py`): the frozen graph `classify_image_graph_def.pb` of inception-2015-12-05.tgz, read
  from a local file, 2048-d `pool_3` features. Images are converted to three channels, mapped
  to [0, 255] and fed to the graph's `ExpandDims:0` tensor as TTUR does; the graph resizes to
  299 x 299 itself (bilinear). Scores are comparable with published FIDs.
- `inception_v3(path)`: Keras' `InceptionV3` with ImageNet weights (no top, average pooling),
  from a local weights file checked against the hash Keras records. Images are converted to
  three channels and resized to 299 x 299 (antialiased bilinear), and enter in [-1, 1], which is
  Keras' `inception_v3.preprocess_input` range. NOT comparable with published FIDs: other
  weights, other resizing.
- Any Keras model or callable, wrapped by `FeatureExtractor` (a Keras model with a static input
  shape gets its size and channels), and None: the identity, the inputs are features already.

Nothing is downloaded at run time; a missing file raises a `ValueError` saying which file is
needed and where it comes from.
"""

from __future__ import annotations

import functools
import importlib.resources
import os
import warnings

import keras
import numpy as np
import tensorflow as tf

# The extractor and the checks, and the Inception networks, live in their own modules.
from tfgen.metrics.extractor import (  # noqa: F401  (public here before the split)
    RANGE_TOLERANCE,
    FeatureExtractor,
    as_feature_extractor,
    check_features,
    check_images,
)
from tfgen.metrics.inception import (  # noqa: F401  (public here before the split)
    INCEPTION_GRAPH_FILE,
    INCEPTION_GRAPH_URL,
    INCEPTION_INPUT,
    INCEPTION_POOL3,
    inception_pool3,
    inception_v3,
)

__all__ = [
    "DIGITS_IMAGE_SIZE",
    "DIGITS_WEIGHTS",
    "FeatureExtractor",
    "as_feature_extractor",
    "digits_classifier",
    "digits_classifier_network",
    "digits_features",
    "feature_extractor",
    "inception_pool3",
    "inception_v3",
]

#: Side of the images the digits classifier sees; other sizes are resized to it.
DIGITS_IMAGE_SIZE = 16
#: Width of the digits classifier's feature layer.
DIGITS_FEATURE_DIM = 64
#: The shipped weights of the digits classifier, a file inside this package.
DIGITS_WEIGHTS = "digits_classifier.weights.h5"


_warned_unit_range = []


def warn_if_generated_in_unit_range(real, generated):
    """Warns once per process when generated images never go below 0 while the real ones reach
    below -0.5: generated images mapped to [0, 1] for display are almost certainly what was fed
    (the FID of the digits then reads about 10 times too high). Features, and batches in a
    tf.function, pass unchecked."""
    if _warned_unit_range or real is None or generated is None or not tf.executing_eagerly():
        return
    real, generated = np.asarray(real), np.asarray(generated)
    if real.ndim != 4 or generated.ndim != 4 or not real.size or not generated.size:
        return
    if float(np.min(generated)) >= 0.0 and float(np.min(real)) < -0.5:
        _warned_unit_range.append(True)
        warnings.warn(
            f"the generated images never go below 0 while the real ones reach "
            f"{float(np.min(real)):.2f}: generated images in [0, 1]? Both sides must be in "
            "[-1, 1] (map [0, 1] images with x * 2 - 1)",
            UserWarning,
            stacklevel=3,
        )


# ----------------------------------------------------------------------------------------------
# The shipped digits classifier.


def digits_classifier_network(seed=None):
    """The digits classifier's architecture, untrained: 16x16x1 in [-1, 1] -> 10 logits.

    Three 3x3 ReLU convolutions (32, 32 with stride 2, 64 with stride 2), a 64-unit dense layer
    named "features" (what `digits_features` returns, taken before its ReLU so that no feature is
    constantly zero and the covariance keeps full rank), then ReLU, dropout and 10 logits.
    """
    initializer = keras.initializers.GlorotUniform(seed=seed)
    inputs = keras.Input((DIGITS_IMAGE_SIZE, DIGITS_IMAGE_SIZE, 1), name="images")
    x = inputs
    for filters, strides in ((32, 1), (32, 2), (64, 2)):
        x = keras.layers.Conv2D(
            filters, 3, strides, padding="same", activation="relu", kernel_initializer=initializer
        )(x)
    x = keras.layers.Flatten()(x)
    features = keras.layers.Dense(
        DIGITS_FEATURE_DIM, kernel_initializer=initializer, name="features"
    )(x)
    x = keras.layers.ReLU()(features)
    x = keras.layers.Dropout(0.3, seed=seed)(x)
    logits = keras.layers.Dense(10, kernel_initializer=initializer, name="logits")(x)
    return keras.Model(inputs, logits, name="digits_classifier")


def digits_weights_path():
    """Path of the shipped weights file of the digits classifier."""
    return str(importlib.resources.files("tfgen.metrics").joinpath(DIGITS_WEIGHTS))


@functools.cache
def _trained_digits_classifier():
    path = digits_weights_path()
    if not os.path.exists(path):
        raise ValueError(
            f"The digits classifier's weights {path} are missing; they ship with tfgen (make "
            "them again with `python -m tfgen.metrics.train_digits`)."
        )
    network = digits_classifier_network()
    network.load_weights(path)
    network.trainable = False
    return network


def digits_features(batch_size=512):
    """64-d features of the shipped digits classifier (see the module docstring)."""
    network = _trained_digits_classifier()
    features = keras.Model(network.inputs, network.get_layer("features").output)
    return FeatureExtractor(
        features,
        DIGITS_IMAGE_SIZE,
        channels=1,
        name="digits_features",
        feature_dim=DIGITS_FEATURE_DIM,
        batch_size=batch_size,
    )


def digits_classifier(batch_size=512):
    """Class probabilities (batch, 10) of the shipped digits classifier, for `InceptionScore`."""
    network = _trained_digits_classifier()
    probabilities = keras.Model(network.inputs, keras.ops.softmax(network.outputs[0]))
    return FeatureExtractor(
        probabilities,
        DIGITS_IMAGE_SIZE,
        channels=1,
        name="digits_classifier",
        feature_dim=10,
        batch_size=batch_size,
    )


#: The extractors `feature_extractor` names (those after "digits" take ":path").
EXTRACTORS = ("digits", "inception_pool3", "inception_v3")


def feature_extractor(spec):
    """An extractor by name: "digits", "inception_pool3:PATH" or "inception_v3:PATH"."""
    name, _, path = str(spec).partition(":")
    if name == "digits" and not path:
        return digits_features()
    if name in ("inception_pool3", "inception_v3") and path:
        return inception_pool3(path) if name == "inception_pool3" else inception_v3(path)
    raise ValueError(
        f"feature extractor must be 'digits', 'inception_pool3:PATH' or 'inception_v3:PATH', "
        f"got {spec!r}"
    )
