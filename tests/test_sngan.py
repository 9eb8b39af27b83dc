"""SNGAN's residual networks: `architectures.resnet_generator` / `resnet_discriminator`."""

import keras
import numpy as np
import pytest

from tfgen import architectures
from tfgen.models import GAN

SIDES = [side for side in (8, 16, 32, 64, 128, 256) if side >= architectures.RESNET_MIN_SIDE]


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("side", SIDES)
def test_shapes_at_every_supported_size(side, channels):
    generator = architectures.resnet_generator((side, side, channels), latent_dim=8, base_filters=2)
    discriminator = architectures.resnet_discriminator((side, side, channels), base_filters=2)
    z = np.random.default_rng(0).normal(size=(2, 8)).astype("float32")
    images = generator(z)
    assert images.shape == (2, side, side, channels)
    assert np.all(np.abs(np.asarray(images)) <= 1)
    assert discriminator(images).shape == (2, 1)


def test_conditional_shapes():
    generator = architectures.resnet_generator((32, 32, 3), 8, 2, num_classes=10)
    discriminator = architectures.resnet_discriminator((32, 32, 3), 2, num_classes=10)
    z = keras.ops.zeros((3, 8))
    labels = keras.ops.convert_to_tensor(np.array([0, 5, 9], "int32"))
    images = generator([z, labels])
    assert images.shape == (3, 32, 32, 3)
    assert discriminator([images, labels]).shape == (3, 1)
    assert discriminator.get_layer("label_projection_sn") is not None


def _conv_params(k, c_in, c_out):
    return k * k * c_in * c_out + c_out


def test_generator_parameter_count_by_hand():
    # 32x32x3, latent 8, base 4: 4x4x32 -> blocks to 16, 8, 4 filters at 8, 16, 32 pixels.
    latent, widths = 8, [32, 16, 8, 4]
    expected = latent * 16 * widths[0] + 16 * widths[0]  # Dense
    for c_in, c_out in zip(widths, widths[1:]):
        expected += _conv_params(1, c_in, c_out)  # shortcut
        expected += 4 * c_in + _conv_params(3, c_in, c_out)  # BN (4 vectors) + conv
        expected += 4 * c_out + _conv_params(3, c_out, c_out)
    expected += 4 * widths[-1] + _conv_params(3, widths[-1], 3)  # final BN + to_image
    model = architectures.resnet_generator((32, 32, 3), latent_dim=latent, base_filters=4)
    assert model.count_params() == expected == 14899


def test_every_discriminator_weight_layer_is_spectrally_normalised():
    model = architectures.resnet_discriminator((32, 32, 3), base_filters=2, num_classes=3)
    wrapped = [layer for layer in model.layers if isinstance(layer, keras.layers.Wrapper)]
    assert all(isinstance(layer, keras.layers.SpectralNormalization) for layer in wrapped)
    bare = [
        layer
        for layer in model.layers
        if isinstance(layer, keras.layers.Conv2D | keras.layers.Dense | keras.layers.Embedding)
    ]
    assert not bare and len(wrapped) == 2 * 4 + 2 + 1 + 1  # 4 blocks, 2 shortcuts, dense, V
    plain = architectures.resnet_discriminator((32, 32, 3), base_filters=2, spectral_norm=False)
    assert not any(isinstance(layer, keras.layers.Wrapper) for layer in plain.layers)


def _conv_same(x, kernel, bias):
    """'same' cross-correlation of (H, W, Cin) with (k, k, Cin, Cout), in numpy."""
    k = kernel.shape[0]
    padded = np.pad(x, ((k // 2, (k - 1) // 2), (k // 2, (k - 1) // 2), (0, 0)))
    out = np.zeros((*x.shape[:2], kernel.shape[-1]))
    for i in range(k):
        for j in range(k):
            window = padded[i : i + x.shape[0], j : j + x.shape[1]]
            out += np.einsum("hwc,cd->hwd", window, kernel[i, j])
    return out + bias


def _pool(x):
    return x.reshape(x.shape[0] // 2, 2, x.shape[1] // 2, 2, -1).mean(axis=(1, 3))


def test_residual_blocks_match_a_numpy_computation():
    model = architectures.resnet_discriminator((32, 32, 1), base_filters=2, spectral_norm=False)
    x = np.random.default_rng(1).normal(size=(1, 32, 32, 1)).astype("float32")

    def weights(name):
        kernel, bias = model.get_layer(name).get_weights()
        return kernel.astype("float64"), bias.astype("float64")

    relu = lambda v: np.maximum(v, 0)  # noqa: E731
    image = x[0].astype("float64")
    # The first ("optimized") block: no leading ReLU, the shortcut pools before its conv.
    h = _conv_same(relu(_conv_same(image, *weights("down1_conv1"))), *weights("down1_conv2"))
    first = _pool(h) + _conv_same(_pool(image), *weights("down1_shortcut_conv"))
    # The second block: ReLU first, the shortcut's conv before its pooling.
    h = _conv_same(relu(first), *weights("down2_conv1"))
    h = _conv_same(relu(h), *weights("down2_conv2"))
    second = _pool(h) + _pool(_conv_same(first, *weights("down2_shortcut_conv")))
    probe = keras.Model(
        model.input, [model.get_layer("down1_add").output, model.get_layer("down2_add").output]
    )
    got_first, got_second = (np.asarray(t)[0] for t in probe(x))
    np.testing.assert_allclose(got_first, first, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(got_second, second, rtol=1e-4, atol=1e-5)


def test_trains_in_a_gan_and_round_trips_through_keras_files(tmp_path):
    keras.utils.set_random_seed(0)
    shape = (32, 32, 1)
    gan = GAN(
        architectures.resnet_generator(shape, latent_dim=4, base_filters=2),
        architectures.resnet_discriminator(shape, base_filters=2),
        seed=0,
    )
    gan.compile(loss="hinge")
    real = np.random.default_rng(0).uniform(-1, 1, (8, *shape)).astype("float32")
    history = gan.fit(real, batch_size=4, epochs=1, verbose=0)
    assert all(np.isfinite(values[-1]) for values in history.history.values())
    path = tmp_path / "sngan.keras"
    gan.save(path)
    loaded = keras.saving.load_model(path)
    z = np.random.default_rng(1).normal(size=(2, 4)).astype("float32")
    np.testing.assert_allclose(loaded.generator(z), gan.generator(z), atol=1e-6)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: architectures.resnet_generator((16, 16, 1)), "at least 32"),
        (lambda: architectures.resnet_discriminator((8, 8, 3)), "at least 32"),
        (lambda: architectures.resnet_generator((48, 48, 3)), "power of two"),
        (lambda: architectures.resnet_generator((32, 32, 2)), "channels"),
        (lambda: architectures.resnet_generator((32, 32, 3), latent_dim=0), "latent_dim"),
        (lambda: architectures.resnet_discriminator((32, 32, 3), base_filters=-1), "base_filters"),
        (lambda: architectures.resnet_discriminator((32, 32, 3), spectral_norm=1), "spectral"),
        (lambda: architectures.resnet_generator((32, 32, 3), num_classes=1.5), "num_classes"),
    ],
)
def test_bad_arguments_name_themselves(call, message):
    with pytest.raises(ValueError, match=message):
        call()
