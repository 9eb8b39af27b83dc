"""Pretrained networks from local weights files: hash checks, clear errors, loading, preprocessing.

The real ImageNet files are not on the test machine, so the stand-ins are randomly initialised
networks saved in the layout of Keras' legacy .h5 weights files (the layout of the real files).
"""

import hashlib
import os

import h5py
import keras
import numpy as np
import pytest

from tfgen import pretrained

INPUT_SHAPE = (32, 32, 3)


def _save_legacy_h5(model, path):
    """Write `model`'s weights as Keras 2 did: layer_names, then per layer weight_names + data."""
    layers = [layer for layer in model.layers if layer.weights]
    with h5py.File(path, "w") as stream:
        stream.attrs["layer_names"] = [layer.name.encode() for layer in layers]
        stream.attrs["backend"] = b"tensorflow"
        stream.attrs["keras_version"] = b"2.2.4"
        for layer in layers:
            group = stream.create_group(layer.name)
            names = [f"{layer.name}_{i}" for i in range(len(layer.weights))]
            group.attrs["weight_names"] = [name.encode() for name in names]
            for name, weight in zip(names, layer.weights):
                group.create_dataset(name, data=np.asarray(weight))


@pytest.fixture(scope="module")
def vgg16_stand_in(tmp_path_factory):
    keras.utils.set_random_seed(0)
    model = keras.applications.VGG16(include_top=False, weights=None, input_shape=INPUT_SHAPE)
    path = tmp_path_factory.mktemp("weights") / pretrained.weights_file("vgg16").file_name
    _save_legacy_h5(model, path)
    return model, path


def test_weights_file_records_keras_names_and_hashes():
    notop = pretrained.weights_file("vgg16")
    assert notop.file_name == "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
    assert notop.url.endswith("/vgg16/" + notop.file_name)
    assert notop.md5 == "6d6bbae143d832006294945121d1f1fc"
    top = pretrained.weights_file("inception_v3", include_top=True)
    assert top.md5 == "9a0d58056eeedaa3f26cb7ebd46da564"
    assert top.url.startswith("https://storage.googleapis.com/tensorflow/keras-applications/")


@pytest.mark.parametrize("name", pretrained.APPLICATIONS)
def test_recorded_files_match_installed_keras_sources(name):
    # The constants are copies; the text of Keras' own module must still name the same files.
    source_path = os.path.join(os.path.dirname(keras.__file__), "src", "applications", name + ".py")
    with open(source_path) as stream:
        source = stream.read()
    for include_top in (True, False):
        expected = pretrained.weights_file(name, include_top)
        assert f'"{expected.file_name}"' in source and f'"{expected.md5}"' in source
        folder, file_name = expected.url.rsplit("/", 2)[-2:]
        assert f"{folder}/{file_name}" in source.replace('"\n    "', "").replace('" "', "")


def test_wrong_hash_is_refused_naming_file_and_source(vgg16_stand_in):
    _, path = vgg16_stand_in
    expected = pretrained.weights_file("vgg16")
    with pytest.raises(ValueError, match="has md5") as error:
        pretrained.keras_application("vgg16", path, input_shape=INPUT_SHAPE)
    message = str(error.value)
    assert str(path) in message and expected.md5 in message and expected.url in message


def test_missing_file_names_what_to_fetch(tmp_path):
    expected = pretrained.weights_file("vgg19")
    missing = tmp_path / "nowhere.h5"
    with pytest.raises(ValueError, match="is not a file") as error:
        pretrained.keras_application("vgg19", missing)
    assert expected.file_name in str(error.value) and expected.url in str(error.value)


def test_unchecked_weights_load_and_reproduce_outputs(vgg16_stand_in):
    model, path = vgg16_stand_in
    loaded = pretrained.keras_application(
        "vgg16", path, input_shape=INPUT_SHAPE, expected_hash=None
    )
    images = np.random.default_rng(0).uniform(0, 255, (2, *INPUT_SHAPE)).astype("float32")
    np.testing.assert_allclose(loaded(images), model(images), rtol=1e-5, atol=1e-5)
    assert not loaded.trainable


def test_explicit_matching_hash_loads(vgg16_stand_in):
    _, path = vgg16_stand_in
    sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
    loaded = pretrained.keras_application(
        "vgg16", path, input_shape=INPUT_SHAPE, expected_hash=sha256
    )
    assert loaded.get_layer("block5_conv3") is not None


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"name": "resnet50"}, "name must be one of"),
        ({"name": "vgg16", "expected_hash": "abc"}, "expected_hash must be"),
    ],
)
def test_bad_arguments_are_refused(vgg16_stand_in, kwargs, match):
    with pytest.raises(ValueError, match=match):
        pretrained.keras_application(weights_path=vgg16_stand_in[1], **kwargs)


def test_preprocess_input_matches_imagenet_conventions():
    images = np.random.default_rng(1).uniform(-1, 1, (2, 4, 4, 3)).astype("float32")
    rgb255 = (images + 1) * 127.5
    caffe = rgb255[..., ::-1] - np.array([103.939, 116.779, 123.68], "float32")
    np.testing.assert_allclose(pretrained.preprocess_input("vgg19", images), caffe, atol=1e-4)
    np.testing.assert_allclose(
        pretrained.preprocess_input("inception_v3", images), images, atol=1e-6
    )
