"""Pretrained `keras.applications` networks from a weights file the user already has.

Nothing is downloaded: `keras_application("vgg16", "/data/vgg16_..._notop.h5")` builds the
network with `weights=None` and loads the file after checking it against the hash Keras itself
records for that file. A missing or different file raises a ValueError that names the file Keras
expects and the address it comes from, so that it can be fetched once on a machine with network
access. Keras' own cache (`~/.keras/models`, or `$KERAS_HOME/models`) is used when no path is given.

    model = keras_application("vgg19", "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5",
                              input_shape=(256, 256, 3))
    features = model(preprocess_input("vgg19", images))   # images in [-1, 1]
"""

from __future__ import annotations

import dataclasses
import hashlib
import os

import keras

__all__ = ["APPLICATIONS", "WeightsFile", "keras_application", "preprocess_input", "weights_file"]


@dataclasses.dataclass(frozen=True)
class WeightsFile:
    """The ImageNet weights file Keras downloads for one network: its name, address and md5."""

    file_name: str
    url: str
    md5: str


_BASE_URL = "https://storage.googleapis.com/tensorflow/keras-applications/"


def _weights(folder, file_name, md5):
    return WeightsFile(file_name, f"{_BASE_URL}{folder}/{file_name}", md5)


# File names, addresses and md5 hashes copied from Keras 3.15.1's
# keras/src/applications/{vgg16,vgg19,inception_v3}.py (WEIGHTS_PATH, WEIGHTS_PATH_NO_TOP and the
# file_hash given to get_file), keyed by include_top; beside them each network's constructor and
# the preprocessing it was trained with.
_APPLICATIONS = {
    "vgg16": (
        keras.applications.VGG16,
        keras.applications.vgg16.preprocess_input,
        {
            True: _weights(
                "vgg16",
                "vgg16_weights_tf_dim_ordering_tf_kernels.h5",
                "64373286793e3c8b2b4e3219cbf3544b",
            ),
            False: _weights(
                "vgg16",
                "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
                "6d6bbae143d832006294945121d1f1fc",
            ),
        },
    ),
    "vgg19": (
        keras.applications.VGG19,
        keras.applications.vgg19.preprocess_input,
        {
            True: _weights(
                "vgg19",
                "vgg19_weights_tf_dim_ordering_tf_kernels.h5",
                "cbe5617147190e668d6c5d5026f83318",
            ),
            False: _weights(
                "vgg19",
                "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5",
                "253f8cb515780f3b799900260a226db6",
            ),
        },
    ),
    "inception_v3": (
        keras.applications.InceptionV3,
        keras.applications.inception_v3.preprocess_input,
        {
            True: _weights(
                "inception_v3",
                "inception_v3_weights_tf_dim_ordering_tf_kernels.h5",
                "9a0d58056eeedaa3f26cb7ebd46da564",
            ),
            False: _weights(
                "inception_v3",
                "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5",
                "bcbd6486424b2319ff4ef7d526e38f63",
            ),
        },
    ),
}
APPLICATIONS = tuple(_APPLICATIONS)


def _check_name(name):
    if name not in _APPLICATIONS:
        raise ValueError(f"name must be one of {APPLICATIONS}, got {name!r}")


def weights_file(name, include_top=False):
    """The `WeightsFile` (file name, download address, md5) Keras uses for `name`."""
    _check_name(name)
    return _APPLICATIONS[name][2][bool(include_top)]


def _keras_cache_path(file_name):
    """Where `keras.utils.get_file(..., cache_subdir="models")` keeps a downloaded file."""
    keras_home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return os.path.join(keras_home, "models", file_name)


def _file_hash(path, algorithm):
    digest = hashlib.new(algorithm)
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _check_weights_path(weights_path, expected, expected_hash):
    """Return the path to load after checking that it exists and, unless told not to, its hash."""
    source = f"{expected.file_name}, which Keras downloads from {expected.url}"
    if weights_path is None:
        weights_path = _keras_cache_path(expected.file_name)
    weights_path = os.fspath(weights_path)
    if not os.path.isfile(weights_path):
        raise ValueError(
            f"weights_path {weights_path!r} is not a file: this network needs {source}; fetch it "
            "once on a machine with network access and pass its path"
        )
    if expected_hash is None:
        return weights_path
    if expected_hash == "auto":
        expected_hash = expected.md5
    if not isinstance(expected_hash, str) or len(expected_hash) not in (32, 64):
        raise ValueError(
            'expected_hash must be "auto", None or an md5 (32 hex digits) or sha256 (64 hex '
            f"digits), got {expected_hash!r}"
        )
    algorithm = "md5" if len(expected_hash) == 32 else "sha256"
    actual = _file_hash(weights_path, algorithm)
    if actual != expected_hash.lower():
        raise ValueError(
            f"weights_path {weights_path!r} has {algorithm} {actual}, expected {expected_hash}: "
            f"this network needs {source} (pass expected_hash=None to load weights of your own "
            "with the same layers)"
        )
    return weights_path


def keras_application(
    name, weights_path=None, include_top=False, input_shape=None, expected_hash="auto"
):
    """Build `keras.applications` network `name` and load its ImageNet weights from a local file.

    Args:
        name: one of `APPLICATIONS`: "vgg16", "vgg19" or "inception_v3".
        weights_path: the weights file Keras downloads for this network (`weights_file(name,
            include_top).file_name`); None looks in Keras' cache, `~/.keras/models`.
        include_top: whether to include the classifier (the file differs). Defaults to False.
        input_shape: (H, W, 3) passed to the Keras constructor; None takes Keras' default.
        expected_hash: "auto" checks the md5 Keras records for this file; a 32- or 64-digit hex
            string checks that md5 or sha256 instead; None skips the check (for weights of your
            own saved in the same layout, e.g. a fine-tuned copy).

    Returns:
        The `keras.Model`, with its weights loaded and not trainable.

    Raises:
        ValueError: for an unknown name, a missing file or a file whose hash differs, naming
            the file Keras expects and the address it comes from.
    """
    _check_name(name)
    constructor = _APPLICATIONS[name][0]
    path = _check_weights_path(weights_path, weights_file(name, include_top), expected_hash)
    model = constructor(include_top=include_top, weights=None, input_shape=input_shape)
    model.load_weights(path)
    model.trainable = False
    return model


def preprocess_input(name, images):
    """Map images in [-1, 1] (RGB, channels last) to the input network `name` was trained on.

    Keras' own `preprocess_input` of that network applied to the 0-255 scale: for VGG ("caffe"
    mode) RGB reordered to BGR minus the ImageNet channel means (103.939, 116.779, 123.68); for
    Inception v3 ("tf" mode) the same [-1, 1].
    """
    _check_name(name)
    images = keras.ops.convert_to_tensor(images, dtype="float32")
    return _APPLICATIONS[name][1]((images + 1.0) * 127.5)
