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
import tarfile
import warnings

import keras
import numpy as np
import tensorflow as tf

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

#: The reference FID network: TTUR's fid.py imports this graph under this name.
INCEPTION_GRAPH_FILE = "classify_image_graph_def.pb"
INCEPTION_GRAPH_URL = (
    "http://download.tensorflow.org/models/image/imagenet/inception-2015-12-05.tgz"
)
INCEPTION_INPUT = "ExpandDims:0"
INCEPTION_POOL3 = "pool_3:0"

#: Images may exceed [-1, 1] by this much (round-off of a tanh output or a resize).
RANGE_TOLERANCE = 1e-3
#: ITU-R BT.601 luma weights, the grey conversion tfgen.data uses.
_LUMA = (0.299, 0.587, 0.114)


class FeatureExtractor:
    """A network that maps images in [-1, 1] to feature vectors, with its preprocessing.

    Calling it with images (batch, height, width, channels) in [-1, 1]:
    1. checks them (rank 4, finite, within [-1, 1]; eagerly, with a `ValueError`);
    2. converts the channels to `channels` (grey -> RGB by repetition, RGB -> grey by luma);
    3. resizes to `image_size` (antialiased bilinear) unless it is None;
    4. maps [-1, 1] linearly to `input_range`;
    5. runs `network` in chunks of `batch_size` images and flattens its output to
       (batch, feature_dim) float32.

    Args:
        network: A Keras model or any callable on a float32 image tensor.
        image_size: (height, width) or an int the network needs; None passes any size.
        channels: 1 or 3 the network needs; None passes the images' own.
        input_range: (low, high) the network expects the pixel range to be.
        name: Identifies the extractor in saved reference statistics, so that statistics of
            one network are never compared with features of another.
        feature_dim: Length of the feature vectors when known in advance.
        batch_size: Images per network call.
    """

    def __init__(
        self,
        network,
        image_size=None,
        channels=None,
        input_range=(-1.0, 1.0),
        name=None,
        feature_dim=None,
        batch_size=256,
    ):
        if not callable(network):
            raise ValueError(f"network must be a Keras model or a callable, got {network!r}")
        if isinstance(image_size, int):
            image_size = (image_size, image_size)
        if image_size is not None and (len(image_size) != 2 or any(int(s) < 1 for s in image_size)):
            raise ValueError(
                f"image_size must be None, an int or (height, width), got {image_size}"
            )
        if channels not in (None, 1, 3):
            raise ValueError(f"channels must be None, 1 or 3, got {channels!r}")
        low, high = (float(v) for v in input_range)
        if not low < high:
            raise ValueError(f"input_range must be (low, high) with low < high, got {input_range}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        self.network = network
        self.image_size = None if image_size is None else tuple(int(s) for s in image_size)
        self.channels = channels
        self.input_range = (low, high)
        self.name = name or getattr(network, "name", None) or type(network).__name__
        self.feature_dim = feature_dim
        self.batch_size = batch_size
        # A Keras model runs eager batches through a traced graph (called eagerly batch after
        # batch it is several times slower); other callables may not be traceable.
        self._traceable = isinstance(network, keras.Model)
        self._traced = {}

    def preprocess(self, images):
        """Channels, size and value range as the network expects them (a float32 tensor)."""
        images = tf.convert_to_tensor(images, tf.float32)
        if self.channels == 3 and images.shape[-1] == 1:
            images = tf.repeat(images, 3, axis=-1)
        elif self.channels == 1 and images.shape[-1] == 3:
            images = tf.reduce_sum(images * tf.constant(_LUMA), axis=-1, keepdims=True)
        if self.image_size is not None and tuple(images.shape[1:3]) != self.image_size:
            images = tf.image.resize(images, self.image_size, method="bilinear", antialias=True)
        low, high = self.input_range
        if (low, high) != (-1.0, 1.0):
            images = (images + 1.0) * ((high - low) / 2.0) + low
        return images

    def __call__(self, images):
        images = check_images(images)
        if not tf.executing_eagerly():
            return self._features(images)
        n = int(images.shape[0])
        features = self._traced_for(images.shape[1:])
        if n == 0:
            # TensorFlow's CPU convolution returns an empty batch unchanged (its input's shape,
            # not its output's), so the network sees one blank image and its features are cut.
            return features(tf.zeros([1, *images.shape[1:]]))[:0]
        chunks = [
            features(images[start : start + self.batch_size])
            for start in range(0, n, self.batch_size)
        ]
        return tf.concat(chunks, axis=0)

    def _traced_for(self, image_shape):
        """`_features` traced once per image shape with a free batch size.

        One graph per (height, width, channels) rather than one retracing function: a relaxed
        trace would forget the sizes and channels `preprocess` decides on.
        """
        if not self._traceable:
            return self._features
        key = tuple(int(d) for d in image_shape)
        if key not in self._traced:
            signature = [tf.TensorSpec([None, *key], tf.float32)]
            self._traced[key] = tf.function(self._features, input_signature=signature)
        return self._traced[key]

    def _features(self, images):
        outputs = self.network(self.preprocess(images))
        if isinstance(outputs, dict):
            outputs = next(iter(outputs.values()))
        outputs = tf.cast(tf.convert_to_tensor(outputs), tf.float32)
        return tf.reshape(outputs, [tf.shape(outputs)[0], -1])

    def __repr__(self):
        return (
            f"FeatureExtractor(name={self.name!r}, image_size={self.image_size}, "
            f"channels={self.channels}, input_range={self.input_range}, "
            f"feature_dim={self.feature_dim})"
        )


class _Identity:
    """The inputs are features already: (batch, feature_dim), checked and passed through."""

    name = "identity"
    feature_dim = None

    def __call__(self, features):
        return check_features(features, "features")

    def __repr__(self):
        return "identity"


def as_feature_extractor(extractor):
    """None -> the identity; a `FeatureExtractor` as it is; a Keras model or callable wrapped.

    A Keras model with a static input shape (height, width, channels) gets that size and
    channel count; its output length is its feature dimension.
    """
    if extractor is None:
        return _Identity()
    if isinstance(extractor, FeatureExtractor | _Identity):
        return extractor
    if isinstance(extractor, keras.Model):
        image_size = channels = feature_dim = None
        try:
            shape = tuple(extractor.inputs[0].shape[1:])
            outputs = tuple(extractor.outputs[0].shape[1:])
        except (AttributeError, IndexError, TypeError, ValueError):
            shape = outputs = ()
        if len(shape) == 3 and None not in shape:
            image_size, channels = shape[:2], shape[2] if shape[2] in (1, 3) else None
        if outputs and None not in outputs:
            feature_dim = int(np.prod(outputs))
        return FeatureExtractor(
            extractor, image_size, channels, name=extractor.name, feature_dim=feature_dim
        )
    if callable(extractor):
        return FeatureExtractor(extractor)
    raise ValueError(
        "feature_extractor must be None (identity), a FeatureExtractor, a Keras model or a "
        f"callable, got {extractor!r}"
    )


def check_images(images, name="images"):
    """A float32 tensor of images (batch, H, W, C) in [-1, 1]; else a ValueError (eagerly)."""
    images = tf.convert_to_tensor(images, tf.float32)
    if images.shape.rank != 4:
        raise ValueError(
            f"{name} must be a batch of images (batch, height, width, channels), got shape "
            f"{tuple(images.shape)}"
        )
    if tf.executing_eagerly() and images.shape[0]:
        values = images.numpy()
        if not np.all(np.isfinite(values)):
            raise ValueError(f"{name} hold NaN or infinite values")
        low, high = float(values.min()), float(values.max())
        if low < -1.0 - RANGE_TOLERANCE or high > 1.0 + RANGE_TOLERANCE:
            raise ValueError(
                f"{name} must lie in [-1, 1] (tfgen's model range; map [0, 1] images with "
                f"x * 2 - 1), got values in [{low:.4g}, {high:.4g}]"
            )
    return images


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


def check_features(features, name="features"):
    """A float32 tensor (batch, feature_dim) with finite entries; else a ValueError (eagerly)."""
    features = tf.convert_to_tensor(features, tf.float32)
    if features.shape.rank != 2:
        raise ValueError(
            f"{name} must be a matrix (batch, feature_dim), got shape {tuple(features.shape)}"
        )
    if tf.executing_eagerly() and not np.all(np.isfinite(features.numpy())):
        raise ValueError(f"{name} hold NaN or infinite values")
    return features


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


# ----------------------------------------------------------------------------------------------
# The reference FID network and Keras' InceptionV3, from local files.


def _missing(path, what, source):
    return ValueError(f"{what} not found: {path!r} does not exist. {source}")


def _read_graph_def(path):
    """The GraphDef bytes from the .pb file itself or from inception-2015-12-05.tgz."""
    if tarfile.is_tarfile(path):
        with tarfile.open(path) as archive:
            for member in archive.getmembers():
                if os.path.basename(member.name) == INCEPTION_GRAPH_FILE:
                    return archive.extractfile(member).read()
        raise ValueError(f"path {path!r} is an archive without {INCEPTION_GRAPH_FILE}")
    with open(path, "rb") as file:
        return file.read()


def inception_pool3(path, batch_size=64):
    """The reference FID network (TTUR's fid.py): 2048-d `pool_3` features of a local file.

    Args:
        path: `classify_image_graph_def.pb`, or the archive inception-2015-12-05.tgz holding it,
            downloaded once from INCEPTION_GRAPH_URL.
        batch_size: Images per call of the graph.

    The graph is imported under the name "FID_Inception_Net" with the images mapped onto its
    `ExpandDims:0` tensor (as TTUR feeds `FID_Inception_Net/ExpandDims:0`): three channels,
    values in [0, 255], any size (the graph resizes to 299 x 299 itself); the features are
    `pool_3:0` flattened.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise _missing(
            path,
            "The reference FID network (Inception graph)",
            f"Download {INCEPTION_GRAPH_URL} once and pass the archive or the "
            f"{INCEPTION_GRAPH_FILE} inside it.",
        )
    graph_def = tf.compat.v1.GraphDef()
    try:
        graph_def.ParseFromString(_read_graph_def(path))
    except Exception as error:  # A corrupt file: protobuf raises its own DecodeError.
        raise ValueError(f"path {path!r} is not a TensorFlow GraphDef: {error}") from error
    names = {node.name for node in graph_def.node}
    for tensor in (INCEPTION_INPUT, INCEPTION_POOL3):
        if tensor.split(":")[0] not in names:
            raise ValueError(
                f"The graph in {path!r} has no tensor {tensor!r}; expected TTUR's "
                f"{INCEPTION_GRAPH_FILE} from {INCEPTION_GRAPH_URL}"
            )

    def pool3(images):
        (features,) = tf.compat.v1.import_graph_def(
            graph_def,
            input_map={INCEPTION_INPUT: images},
            return_elements=[INCEPTION_POOL3],
            name="FID_Inception_Net",
        )
        return features

    spec = tf.TensorSpec([None, None, None, 3], tf.float32)
    network = tf.compat.v1.wrap_function(pool3, [spec])
    width = network.outputs[0].shape[-1]
    return FeatureExtractor(
        network,
        None,
        channels=3,
        input_range=(0.0, 255.0),
        name="inception_pool3",
        feature_dim=None if width is None else int(width),
        batch_size=batch_size,
    )


def inception_v3(path, batch_size=64, expected_hash="auto"):
    """Keras' InceptionV3 (ImageNet, no top, average pooling) from a local weights file: 2048-d.

    NOT comparable with published FIDs (other weights and resizing than the reference network;
    use `inception_pool3` for those).

    Args:
        path: Keras' `inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5`, downloaded
            once (see `tfgen.pretrained.weights_file("inception_v3")`).
        batch_size: Images per network call.
        expected_hash: Checked against the file: "auto" is the md5 Keras records for it; None
            skips the check (weights of your own in the same layout).
    """
    from tfgen import pretrained

    network = pretrained.keras_application(
        "inception_v3", path, input_shape=(299, 299, 3), expected_hash=expected_hash
    )
    pooled = keras.layers.GlobalAveragePooling2D()(network.output)  # Keras' pooling="avg"
    return FeatureExtractor(
        keras.Model(network.input, pooled),
        299,
        channels=3,
        name="inception_v3",
        feature_dim=2048,
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
