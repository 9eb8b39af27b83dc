"""`tfgen.architectures.self_ensemble`: the mean over flips and turns, checked with numpy."""

import keras
import numpy as np
import pytest

from tfgen import architectures


def _network(shape, seed=0):
    """A small U-Net with random (not zero) weights: no symmetry of its own to hide errors."""
    keras.utils.set_random_seed(seed)
    network = architectures.unet(shape, base_filters=4, depth=1)
    rng = np.random.default_rng(seed)
    network.set_weights([0.3 * rng.normal(size=w.shape) for w in network.get_weights()])
    return network


def _numpy_ensemble(network, images, transforms):
    """The mean of g^-1(f(g(x))) written with numpy's flips and rot90."""
    group = [(f, t) for f in (False, True) for t in range(4)]
    if transforms == "flips":
        group = [(False, 0), (True, 0), (False, 2), (True, 2)]
    outputs = []
    for flip, turns in group:
        x = images[:, :, ::-1] if flip else images
        x = np.rot90(x, turns, axes=(1, 2))
        y = network.predict(np.ascontiguousarray(x), verbose=0)
        y = np.rot90(y, -turns, axes=(1, 2))
        outputs.append(y[:, :, ::-1] if flip else y)
    return np.mean(outputs, axis=0)


@pytest.mark.parametrize(
    ("shape", "transforms"),
    [((8, 8, 3), "dihedral"), ((8, 8, 3), "flips"), ((6, 10, 1), "flips")],
)
def test_self_ensemble_is_the_mean_over_the_transforms(shape, transforms):
    network = _network(shape)
    images = np.random.default_rng(1).uniform(-1, 1, size=(3, *shape)).astype(np.float32)
    ensemble = architectures.self_ensemble(network, transforms)
    got = ensemble.predict(images, verbose=0)
    np.testing.assert_allclose(got, _numpy_ensemble(network, images, transforms), atol=1e-5)
    # Not the network alone: the transforms change what a random network returns.
    assert np.abs(got - network.predict(images, verbose=0)).max() > 1e-3


def test_self_ensemble_of_an_equivariant_network_is_the_network():
    # A 3x3 blur with a symmetric kernel commutes with every flip and turn.
    images = keras.Input((8, 8, 1))
    conv = keras.layers.Conv2D(1, 3, padding="same", use_bias=False)
    network = keras.Model(images, conv(images))
    conv.set_weights([np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]], np.float32)[..., None, None]])
    x = np.random.default_rng(2).normal(size=(2, 8, 8, 1)).astype(np.float32)
    got = architectures.self_ensemble(network).predict(x, verbose=0)
    np.testing.assert_allclose(got, network.predict(x, verbose=0), atol=1e-5)


def test_self_ensemble_saves_and_loads(tmp_path):
    network = _network((8, 8, 3))
    ensemble = architectures.self_ensemble(network, "flips")
    path = str(tmp_path / "ensemble.keras")
    ensemble.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    x = np.random.default_rng(3).uniform(-1, 1, size=(2, 8, 8, 3)).astype(np.float32)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), ensemble.predict(x, verbose=0))


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: architectures.self_ensemble("unet"), "network must be a built keras.Model"),
        (lambda: architectures.self_ensemble(_network((8, 8, 3)), "rot"), "transforms must be"),
        (lambda: architectures.self_ensemble(_network((8, 12, 3))), "needs square images"),
        (
            lambda: architectures.self_ensemble(
                keras.Sequential([keras.Input((4,)), keras.layers.Dense(4)])
            ),
            "images \\(batch, H, W, C\\)",
        ),
    ],
)
def test_self_ensemble_bad_arguments(build, message):
    with pytest.raises(ValueError, match=message):
        build()
