"""Style transfer, texture synthesis and feature visualisation on tiny images."""

import functools
import importlib.util
import json
import os

import keras
import numpy as np
import pytest
from PIL import Image

from tfgen import optimizers, plot, stylize

SIZE = 16
STEPS = 12


def _photo(seed):
    """A smooth random colour image (H, W, 3) in [0, 1]: blobs, not white noise."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0, 1, (4, 4, 3))
    return np.kron(coarse, np.ones((SIZE // 4, SIZE // 4, 1))).astype(np.float32)


CONTENT, STYLE = _photo(0), _photo(1)


def _gram_numpy(features):
    batch, height, width, channels = features.shape
    flat = features.reshape(batch, height * width, channels).astype(np.float64)
    return np.einsum("bpc,bpd->bcd", flat, flat) / (height * width)


@functools.cache
def _random_network():
    return stylize.random_features()


def _transfer_objective_numpy(image, content=CONTENT, style=STYLE):
    """`transfer`'s default objective at `image` ((H, W, 3) in [0, 1]) in float64 numpy, from the
    default random network's feature maps: 1e4 * style + content + 1e-2 * total variation."""

    def features(picture):
        x = np.asarray(2.0 * picture - 1.0, np.float32)[None]
        return [np.asarray(f, np.float64) for f in _random_network()(x)]

    x = 2.0 * np.asarray(image, np.float64) - 1.0
    maps, content_maps, style_maps = features(image), features(content), features(style)
    style_term = np.mean(
        [
            np.sum((_gram_numpy(f) - _gram_numpy(s)) ** 2) / (4 * f.shape[-1] ** 2)
            for f, s in zip(maps, style_maps)
        ]
    )
    content_term = 0.5 * np.mean((maps[-1] - content_maps[-1]) ** 2)  # the last layer's
    tv_term = np.mean(np.diff(x, axis=0) ** 2) + np.mean(np.diff(x, axis=1) ** 2)
    return 1e4 * style_term + content_term + 1e-2 * tv_term


def test_gram_matrix_matches_numpy():
    features = np.random.default_rng(0).normal(size=(2, 4, 5, 3)).astype(np.float32)
    # float32 round-off of the sums of 20 products (entries near 1), also on entries that nearly
    # cancel: an absolute tolerance, against a float64 reference.
    np.testing.assert_allclose(
        stylize.gram_matrix(features), _gram_numpy(features), rtol=1e-5, atol=1e-6
    )


def test_losses_match_numpy():
    rng = np.random.default_rng(1)
    features = [rng.normal(size=(1, 4, 4, c)).astype(np.float32) for c in (2, 3)]
    targets = [rng.normal(size=f.shape).astype(np.float32) for f in features]
    grams = [_gram_numpy(t) for t in targets]
    expected_style = np.mean(
        [
            np.sum((_gram_numpy(f) - g) ** 2) / (4 * f.shape[-1] ** 2)
            for f, g in zip(features, grams)
        ]
    )
    np.testing.assert_allclose(stylize.style_loss(features, grams), expected_style, rtol=1e-5)
    expected_content = sum(0.5 * np.mean((f - t) ** 2) for f, t in zip(features, targets))
    np.testing.assert_allclose(stylize.content_loss(features, targets), expected_content, rtol=1e-5)
    images = rng.uniform(-1, 1, (1, 5, 6, 3)).astype(np.float32)
    expected_tv = np.mean(np.diff(images, axis=1) ** 2) + np.mean(np.diff(images, axis=2) ** 2)
    np.testing.assert_allclose(stylize.total_variation_loss(images), expected_tv, rtol=1e-5)


def test_random_features_are_deterministic_for_a_seed():
    images = np.random.default_rng(2).uniform(-1, 1, (1, SIZE, SIZE, 3)).astype(np.float32)
    first = stylize.random_features(seed=3, filters=4)
    second = stylize.random_features(seed=3, filters=4)
    other = stylize.random_features(seed=4, filters=4)
    for a, b in zip(first.get_weights(), second.get_weights()):
        np.testing.assert_array_equal(a, b)
    outputs = [np.asarray(o) for o in first(images)]
    for a, b in zip(outputs, second(images)):
        np.testing.assert_array_equal(a, b)
    assert not np.allclose(first.get_weights()[0], other.get_weights()[0])
    assert [layer.name for layer in first.layers[1:]] == list(stylize.RANDOM_STYLE_LAYERS)


@pytest.mark.parametrize(
    "optimizer, learning_rate",
    [
        ("adam", 0.05),  # the default 0.3 reaches 1 % first, but not monotonically
        ("nesterov", None),
        ("gradient_descent", None),
        ("conjugate_gradient", None),
        (keras.optimizers.SGD(1.0, momentum=0.5), None),
    ],
    ids=["adam", "nesterov", "gradient_descent", "conjugate_gradient", "keras_sgd"],
)
def test_transfer_loss_falls_for_each_optimizer(optimizer, learning_rate):
    # Two snapshot intervals: conjugate gradient traces its solver once per interval length.
    result = stylize.transfer(
        CONTENT,
        STYLE,
        optimizer=optimizer,
        learning_rate=learning_rate,
        steps=STEPS,
        image_size=SIZE,
        num_snapshots=2,
        seed=0,
    )
    losses = result.losses
    assert result.evaluations == losses.size
    # The first loss is the content image's, the last the returned image's (float32 sums).
    np.testing.assert_allclose(losses[0], _transfer_objective_numpy(CONTENT), rtol=1e-5)
    np.testing.assert_allclose(losses[-1], _transfer_objective_numpy(result.image), rtol=1e-5)
    assert losses[-1] < 0.8 * losses[0]
    if optimizer != "conjugate_gradient":  # its line search tries points above the best
        rises = np.mean(np.diff(losses) > 0.01 * losses[0])
        assert rises <= 0.25, losses
    assert result.image.shape == (SIZE, SIZE, 3)
    assert result.snapshots.min() >= 0.0 and result.snapshots.max() <= 1.0
    assert result.snapshots.shape[0] == 3 and np.array_equal(result.snapshots[-1], result.image)
    assert result.snapshot_evaluations[0] == 0
    assert result.snapshot_evaluations[-1] == result.evaluations
    assert np.all(np.diff(result.snapshot_evaluations) > 0)


def test_values_stay_in_range():
    # Adam's first step is +-learning_rate on every pixel: 5 would throw them all far out of
    # [-1, 1] without the projection. (The other optimizers are checked in the test above.)
    result = stylize.transfer(
        CONTENT,
        STYLE,
        optimizer="adam",
        learning_rate=5.0,
        steps=1,
        image_size=SIZE,
        style_weight=1e6,
        num_snapshots=1,
    )
    for image in (result.image, *result.snapshots):
        assert image.min() >= 0.0 and image.max() <= 1.0
    at_bounds = np.mean((result.image == 0.0) | (result.image == 1.0))
    assert at_bounds > 0.9, at_bounds


def _pixel_gram(image):
    """Colour second moments of an image in [-1, 1]: a statistic outside the feature network."""
    pixels = image.reshape(-1, 3) * 2.0 - 1.0
    return pixels.T @ pixels / len(pixels)


def test_texture_moves_gram_statistics_toward_the_style():
    network = stylize.random_features()
    result = stylize.texture(STYLE, size=SIZE, steps=40, seed=0)
    start, final = result.snapshots[0], result.image

    def feature_distance(image):
        features = [np.asarray(f) for f in network((image * 2.0 - 1.0)[None])]
        style = [np.asarray(f) for f in network((STYLE * 2.0 - 1.0)[None])]
        return sum(np.sum((_gram_numpy(f) - _gram_numpy(s)) ** 2) for f, s in zip(features, style))

    assert feature_distance(final) < 0.2 * feature_distance(start)
    colour = np.linalg.norm(_pixel_gram(final) - _pixel_gram(STYLE))
    assert colour < 0.5 * np.linalg.norm(_pixel_gram(start) - _pixel_gram(STYLE))


def _unit_model():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((None, None, 3))
    hidden = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv")(inputs)
    outputs = keras.layers.Conv2D(3, 3, padding="same", name="top")(hidden)
    return keras.Model(inputs, outputs)


def _mean_unit(model, layer, unit, image):
    extractor = keras.Model(model.inputs, model.get_layer(layer).output)
    return float(np.mean(np.asarray(extractor((image * 2.0 - 1.0)[None]))[..., unit]))


@pytest.mark.parametrize(
    "optimizer",
    # The objective is a mean over 16x16 positions: gradients per pixel are small.
    ["adam", optimizers.Nesterov(100.0, maximize=True), keras.optimizers.SGD(300.0)],
    ids=["adam", "tfgen_maximize", "keras_sgd"],
)
def test_visualize_raises_the_chosen_activation(optimizer):
    model = _unit_model()
    result = stylize.visualize(
        model, "conv", unit=1, optimizer=optimizer, steps=STEPS, image_size=SIZE, seed=0
    )
    before = _mean_unit(model, "conv", 1, result.snapshots[0])
    after = _mean_unit(model, "conv", 1, result.image)
    assert after > before + 0.05
    assert result.losses[-1] == pytest.approx(after, rel=1e-4, abs=1e-5)


def test_visualize_uses_a_fixed_input_size():
    inputs = keras.Input((8, 8, 1))
    flat = keras.layers.Flatten()(inputs)
    model = keras.Model(inputs, keras.layers.Dense(10, name="logits")(flat))
    result = stylize.visualize(model, "logits", unit=3, steps=5, jitter=0, blur=0, seed=0)
    assert result.image.shape == (8, 8, 1)
    assert result.losses[-1] > result.losses[0]


def test_load_image_reads_files_and_bundled_photos(tmp_path):
    path = tmp_path / "image.png"
    pixels = (CONTENT * 255).round().astype(np.uint8)
    Image.fromarray(pixels).save(path)
    np.testing.assert_allclose(stylize.load_image(path), pixels / 255.0, atol=1e-6)
    photo = stylize.load_image("flower", size=(12, 20))
    assert photo.shape == (12, 20, 3) and 0.0 <= photo.min() and photo.max() <= 1.0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"content": np.zeros((SIZE, SIZE))}, "image must be an array"),
        ({"style": np.zeros((1, SIZE, SIZE, 3))}, "image must be an array"),
        ({"content": np.full((SIZE, SIZE, 3), 2.0)}, r"must lie in \[0, 1\]"),
        ({"style_layers": ["nope"]}, "unknown layer 'nope'"),
        ({"content_layers": ["random_4x4"]}, "unknown layer"),
        ({"steps": 0}, "steps must be a positive int"),
        ({"style_weight": 0.0}, "style_weight must be"),
        ({"content_weight": -1.0}, "content_weight must be"),
        ({"tv_weight": float("nan")}, "tv_weight must be"),
        ({"features": "vgg16:/nonexistent/weights.h5"}, "is not a file"),
        ({"features": "vgg19"}, "needs the weights file"),
        ({"features": "resnet"}, "features must be"),
        ({"optimizer": "sgd"}, "optimizer must be one of"),
        ({"optimizer": optimizers.Adam(maximize=True)}, "maximize=True"),
        ({"optimizer": "conjugate_gradient", "learning_rate": 0.1}, "learning_rate"),
        ({"image_size": 0}, "image_size"),
        ({"init": "zeros"}, "init must be"),
    ],
)
def test_transfer_rejects_bad_input(kwargs, match):
    arguments = {"content": CONTENT, "style": STYLE, "steps": 1, "image_size": SIZE, **kwargs}
    with pytest.raises(ValueError, match=match):
        stylize.transfer(**arguments)


def test_visualize_and_texture_reject_bad_input():
    model = _unit_model()
    with pytest.raises(ValueError, match="unknown layer 'missing'"):
        stylize.visualize(model, "missing")
    with pytest.raises(ValueError, match="unit must be in"):
        stylize.visualize(model, "conv", unit=4)
    with pytest.raises(ValueError, match="jitter=0"):
        stylize.visualize(model, "conv", optimizer="conjugate_gradient")
    with pytest.raises(ValueError, match="steps must be"):
        stylize.texture(STYLE, size=SIZE, steps=-1)
    with pytest.raises(ValueError, match="style_layers must be given"):
        stylize.texture(STYLE, size=SIZE, features=model)


def test_example_writes_image_progress_losses_and_settings(tmp_path):
    path = os.path.join(os.path.dirname(__file__), os.pardir, "examples", "stylize.py")
    spec = importlib.util.spec_from_file_location("stylize_example", path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    settings = {
        "content": "grace_hopper",
        "style": "flower",
        "features": "random",
        "optimizer": "adam",
        "learning_rate": None,
        "steps": 3,
        "image_size": SIZE,
        "layer": "random_7x7",
        "unit": None,
        "seed": 0,
    }
    result, paths = example.run("texture", str(tmp_path), **settings)
    assert sorted(os.listdir(tmp_path)) == [
        "image.png",
        "losses.png",
        "progress.png",
        "settings.json",
    ]
    with Image.open(paths["image.png"]) as image:
        assert image.size[::-1] == plot.grid_size(1, SIZE, SIZE, scale=4)
    with open(paths["settings.json"]) as stream:
        assert json.load(stream) == {"task": "texture", **settings}
    assert result.evaluations == 4
