"""The reference FID network (TTUR's Inception graph) and Keras' InceptionV3, from local files."""

from __future__ import annotations

import os
import tarfile

import keras
import tensorflow as tf

from tfgen.metrics.extractor import FeatureExtractor

__all__ = [
    "INCEPTION_GRAPH_FILE",
    "INCEPTION_GRAPH_URL",
    "INCEPTION_INPUT",
    "INCEPTION_POOL3",
    "inception_pool3",
    "inception_v3",
]

#: The reference FID network: TTUR's fid.py imports this graph under this name.
INCEPTION_GRAPH_FILE = "classify_image_graph_def.pb"
INCEPTION_GRAPH_URL = (
    "http://download.tensorflow.org/models/image/imagenet/inception-2015-12-05.tgz"
)
INCEPTION_INPUT = "ExpandDims:0"
INCEPTION_POOL3 = "pool_3:0"


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
