"""Tests for tfgen.architectures: shapes, ranges, dtypes, serialisation and input checks."""

import re

import keras
import numpy as np
import pytest

import tfgen.layers
from tfgen import architectures, runs

LATENT = 8
FILTERS = 4


def _latent(n=2, dim=LATENT, seed=0):
    return np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)


def _images(n, shape, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (n, *shape)).astype(np.float32)


def _n_layers(model, kind):
    return sum(isinstance(layer, kind) for layer in model.layers)


@pytest.mark.parametrize("side", [8, 32])
@pytest.mark.parametrize("channels", [1, 3])
def test_generator_and_discriminator_shapes(side, channels):
    shape = (side, side, channels)
    gen = architectures.dcgan_generator(shape, latent_dim=LATENT, base_filters=FILTERS)
    disc = architectures.dcgan_discriminator(shape, base_filters=FILTERS)
    assert gen.name == "generator" and disc.name == "discriminator"
    assert gen.input_shape == (None, LATENT)
    # Large latents drive tanh into saturation: output must still be within [-1, 1].
    z = 50.0 * _latent(3)
    for training in (False, True):
        images = gen(z, training=training).numpy()
        assert images.shape == (3, *shape)
        assert images.dtype == np.float32
        assert np.all(images >= -1.0) and np.all(images <= 1.0)
        logits = disc(images, training=training)
        assert logits.shape == (3, 1)
    # One upsampling (transposed conv below 32, resize from 32) / strided conv per factor of two.
    n_steps = int(np.log2(side // architectures.START_SIZE))
    upsampling = keras.layers.Conv2DTranspose if side < 32 else keras.layers.UpSampling2D
    assert _n_layers(gen, upsampling) == n_steps
    assert _n_layers(gen, keras.layers.BatchNormalization) == n_steps + 1
    assert _n_layers(disc, keras.layers.Conv2D) == n_steps
    # Batch statistics would couple examples: the discriminator has no batch normalisation.
    assert _n_layers(disc, keras.layers.BatchNormalization) == 0


def test_filter_progression():
    gen = architectures.dcgan_generator(
        (64, 64, 3), latent_dim=LATENT, base_filters=2, upsampling="transpose"
    )
    ups = [layer.filters for layer in gen.layers if isinstance(layer, keras.layers.Conv2DTranspose)]
    # Halving down to base_filters; the 4x4 projection is capped at 8 * base_filters.
    assert ups == [16, 8, 4, 2]
    assert gen.get_layer("reshape").output.shape == (None, 4, 4, 16)
    disc = architectures.dcgan_discriminator((256, 256, 1), base_filters=2)
    downs = [layer.filters for layer in disc.layers if isinstance(layer, keras.layers.Conv2D)]
    # Doubling from base_filters, capped at MAX_FILTER_MULTIPLIER * base_filters.
    assert downs == [2, 4, 8, 16, 16, 16]
    assert max(downs) == architectures.MAX_FILTER_MULTIPLIER * 2


def test_side_256_quick_build():
    shape = (256, 256, 3)
    gen = architectures.dcgan_generator(shape, latent_dim=LATENT, base_filters=1)
    disc = architectures.dcgan_discriminator(shape, base_filters=1)
    images = gen(_latent(1))
    assert images.shape == (1, *shape)
    assert disc(images).shape == (1, 1)


def test_generator_side_8_starts_at_4x4_with_one_block():
    gen = architectures.dcgan_generator((8, 8, 1), latent_dim=LATENT, base_filters=FILTERS)
    assert gen.get_layer("reshape").output.shape == (None, 4, 4, 2 * FILTERS)
    assert _n_layers(gen, keras.layers.Conv2DTranspose) == 1


def test_spectral_norm_wraps_every_weight_layer():
    shape = (16, 16, 3)
    disc = architectures.dcgan_discriminator(shape, base_filters=FILTERS, spectral_norm=True)
    wrapped = [
        layer for layer in disc.layers if isinstance(layer, keras.layers.SpectralNormalization)
    ]
    assert [type(layer.layer) for layer in wrapped] == [
        tfgen.layers.Conv2D,
        tfgen.layers.Conv2D,
        keras.layers.Dense,
    ]
    assert _n_layers(disc, keras.layers.Conv2D) == 0  # none left unwrapped
    images = _images(2, shape)
    first = disc(images, training=True).numpy()
    second = disc(images, training=True).numpy()
    assert first.shape == (2, 1) and np.all(np.isfinite(first)) and np.all(np.isfinite(second))
    # After a training call every kernel has spectral norm ~1 (power iteration estimate).
    kernel = wrapped[-1].layer.kernel.numpy()
    assert np.linalg.norm(kernel, 2) == pytest.approx(1.0, rel=0.05)


@pytest.mark.parametrize(
    "build",
    [
        lambda: architectures.dcgan_generator((8, 8, 3), latent_dim=LATENT, base_filters=FILTERS),
        lambda: architectures.dcgan_discriminator((8, 8, 3), base_filters=FILTERS),
        lambda: architectures.dcgan_discriminator(
            (8, 8, 3), base_filters=FILTERS, spectral_norm=True
        ),
        lambda: architectures.conv_encoder((8, 8, 1), LATENT, variational=True, base_filters=2),
        lambda: architectures.conv_decoder(LATENT, (8, 8, 1), base_filters=2),
    ],
    ids=["generator", "discriminator", "discriminator_sn", "encoder_vae", "decoder"],
)
def test_keras_save_load_round_trip(tmp_path, build):
    model = build()
    first = model.inputs[0]
    data = _latent(2) if len(first.shape) == 2 else _images(2, first.shape[1:])
    if any(isinstance(layer, keras.layers.SpectralNormalization) for layer in model.layers):
        model(data, training=True)  # move the power-iteration state off its initial value
    path = tmp_path / f"{model.name}.keras"
    model.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    assert loaded.name == model.name
    want = keras.tree.flatten(model(data, training=False))
    got = keras.tree.flatten(loaded(data, training=False))
    assert len(got) == len(want)
    for a, b in zip(got, want, strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_float32_outputs_under_mixed_precision():
    shape = (8, 8, 3)
    with runs.dtype_policy(mixed_precision=True):
        gen = architectures.dcgan_generator(shape, latent_dim=LATENT, base_filters=FILTERS)
        disc = architectures.dcgan_discriminator(shape, base_filters=FILTERS, spectral_norm=True)
        enc = architectures.conv_encoder(shape, LATENT, variational=True, base_filters=FILTERS)
        dec = architectures.conv_decoder(LATENT, shape, base_filters=FILTERS)
    # The compute really is float16 inside ...
    assert gen.get_layer("up1_conv").compute_dtype == "float16"
    # ... but every output is float32.
    images = gen(_latent(2), training=True)
    assert images.dtype == "float32"
    assert disc(images, training=True).dtype == "float32"
    assert all(out.dtype == "float32" for out in enc(images))
    assert dec(_latent(2)).dtype == "float32"


@pytest.mark.parametrize("channels", [1, 3])
def test_encoder_decoder_shapes(channels):
    shape = (16, 16, channels)
    enc = architectures.conv_encoder(shape, LATENT, base_filters=FILTERS)
    vae = architectures.conv_encoder(shape, LATENT, variational=True, base_filters=FILTERS)
    dec = architectures.conv_decoder(LATENT, shape, base_filters=FILTERS)
    assert (enc.name, vae.name, dec.name) == ("encoder", "encoder", "decoder")
    images = _images(3, shape)
    z = enc(images)
    assert z.shape == (3, LATENT)
    mean, log_var = vae(images)
    assert mean.shape == (3, LATENT) and log_var.shape == (3, LATENT)
    assert vae.output_names == ["z_mean", "z_log_var"]
    out = dec(50.0 * np.asarray(z)).numpy()
    assert out.shape == (3, *shape)
    assert np.all(out >= -1.0) and np.all(out <= 1.0)
    assert _n_layers(dec, keras.layers.BatchNormalization) == 0
    assert _n_layers(enc, keras.layers.BatchNormalization) == 0


def test_defaults_are_those_of_radford_et_al():
    """LeakyReLU slope 0.2 and weights drawn from N(0, 0.02) (Radford et al. 2015, Section 4)."""
    disc = architectures.dcgan_discriminator((8, 8, 1), base_filters=FILTERS)
    relus = [layer for layer in disc.layers if isinstance(layer, keras.layers.LeakyReLU)]
    assert relus and all(layer.negative_slope == pytest.approx(0.2) for layer in relus)
    gen = architectures.dcgan_generator((8, 8, 1))
    assert gen.input_shape == (None, 128)
    # Width 32 and kernel 3, chosen by benchmarks/gan_ablation.py.
    assert gen.get_layer("up1_conv").filters == 32
    assert gen.get_layer("up1_conv").kernel_size == (3, 3)
    disc_kernel = architectures.dcgan_discriminator((8, 8, 1)).get_layer("down1_conv").kernel_size
    assert disc_kernel == (3, 3)
    kernel = gen.get_layer("up1_conv").kernel.numpy()  # 3 x 3 x 32 x 64: 18,432 draws
    assert abs(kernel.mean()) < 1e-3 and kernel.std() == pytest.approx(0.02, rel=0.03)


BAD_SHAPES = [
    (4, 4, 3),  # below MIN_SIDE
    (512, 512, 3),  # above MAX_SIDE
    (24, 24, 3),  # not a power of two
    (32, 16, 3),  # not square
    (32, 32, 2),  # channels
    (32, 32),  # rank
    (32.0, 32.0, 3.0),  # not ints
    (True, True, 1),
    "32x32",
    None,
]


@pytest.mark.parametrize("shape", BAD_SHAPES, ids=[repr(s) for s in BAD_SHAPES])
def test_bad_image_shape(shape):
    pattern = r"image_shape must be \(side, side, channels\) with side a power of two from 8 to 256"
    builders = [
        lambda: architectures.dcgan_generator(shape),
        lambda: architectures.dcgan_discriminator(shape),
        lambda: architectures.conv_encoder(shape, LATENT),
        lambda: architectures.conv_decoder(LATENT, shape),
    ]
    for build in builders:
        with pytest.raises(ValueError, match=pattern) as err:
            build()
        assert repr(shape) in str(err.value)


def test_check_image_shape_normalises():
    assert architectures.check_image_shape([np.int64(16), 16, 1]) == (16, 16, 1)


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "8", None])
def test_bad_positive_ints(bad):
    shape = (8, 8, 1)
    cases = [
        ("latent_dim", lambda: architectures.dcgan_generator(shape, latent_dim=bad)),
        ("base_filters", lambda: architectures.dcgan_generator(shape, base_filters=bad)),
        ("base_filters", lambda: architectures.dcgan_discriminator(shape, base_filters=bad)),
        ("latent_dim", lambda: architectures.conv_encoder(shape, bad)),
        ("base_filters", lambda: architectures.conv_encoder(shape, 4, base_filters=bad)),
        ("latent_dim", lambda: architectures.conv_decoder(bad, shape)),
        ("base_filters", lambda: architectures.conv_decoder(4, shape, base_filters=bad)),
    ]
    for name, build in cases:
        with pytest.raises(ValueError, match=f"{name} must be a positive int, got {bad!r}"):
            build()


def test_bad_flags():
    with pytest.raises(ValueError, match="spectral_norm must be a bool, got 'yes'"):
        architectures.dcgan_discriminator((8, 8, 1), spectral_norm="yes")
    with pytest.raises(ValueError, match="variational must be a bool, got 1"):
        architectures.conv_encoder((8, 8, 1), 4, variational=1)


SIDES = [8, 16, 32, 64, 128, 256]


@pytest.mark.parametrize("side", SIDES)
@pytest.mark.parametrize("upsampling", architectures.UPSAMPLING)
def test_generator_upsampling_options_at_every_side(side, upsampling):
    shape = (side, side, 3)
    gen = architectures.dcgan_generator(
        shape, latent_dim=LATENT, base_filters=1, upsampling=upsampling
    )
    n_steps = int(np.log2(side // architectures.START_SIZE))
    assert gen(_latent(1)).shape == (1, *shape)
    resizes = [layer for layer in gen.layers if isinstance(layer, keras.layers.UpSampling2D)]
    if upsampling == "auto":
        upsampling = "transpose" if side < architectures.NEAREST_UPSAMPLING_MIN_SIDE else "nearest"
    if upsampling == "transpose":
        assert not resizes
        assert _n_layers(gen, keras.layers.Conv2DTranspose) == n_steps
    else:
        assert _n_layers(gen, keras.layers.Conv2DTranspose) == 0
        assert [layer.interpolation for layer in resizes] == [upsampling] * n_steps
        # Each resize doubles the side and is followed by a stride-1 convolution.
        for block in range(1, n_steps + 1):
            conv = gen.get_layer(f"up{block}_conv")
            assert isinstance(conv, keras.layers.Conv2D) and conv.strides == (1, 1)
            assert conv.output.shape[1] == architectures.START_SIZE * 2**block


@pytest.mark.parametrize("side", SIDES)
@pytest.mark.parametrize("extra_convs", [0, 1, 2])
def test_discriminator_depth_and_kernel_at_every_side(side, extra_convs):
    shape = (side, side, 1)
    disc = architectures.dcgan_discriminator(
        shape, base_filters=1, kernel_size=3, extra_convs=extra_convs
    )
    assert disc(_images(2, shape)).shape == (2, 1)
    n_steps = int(np.log2(side // architectures.START_SIZE))
    convs = [layer for layer in disc.layers if isinstance(layer, keras.layers.Conv2D)]
    assert len(convs) == n_steps * (1 + extra_convs)
    strided = [conv for conv in convs if conv.strides == (2, 2)]
    assert len(strided) == n_steps
    assert all(conv.kernel_size == (3, 3) for conv in convs)
    # The stride-1 convolutions keep the resolution of their block's input.
    assert disc.get_layer("flatten").output.shape[1:] == (16 * convs[-1].filters,)
    if extra_convs:
        assert disc.get_layer("down1_extra1_conv").output.shape[1] == side


def test_generator_without_batch_norm_and_with_kernel_3():
    gen = architectures.dcgan_generator(
        (16, 16, 1), latent_dim=LATENT, base_filters=FILTERS, batch_norm=False, kernel_size=3
    )
    assert _n_layers(gen, keras.layers.BatchNormalization) == 0
    # Without batch norm every layer keeps its bias.
    assert gen.get_layer("project").use_bias and gen.get_layer("up2_conv").use_bias
    # 4x4 with 4 * FILTERS, then 8x8 with 2 * FILTERS; transposed kernels are (k, k, out, in).
    assert gen.get_layer("up1_conv").kernel.shape == (3, 3, 2 * FILTERS, 4 * FILTERS)


def test_generator_activation_is_relu_or_leaky_relu():
    relu = architectures.dcgan_generator(
        (16, 16, 1), latent_dim=LATENT, base_filters=FILTERS, negative_slope=0
    )
    # The default, chosen by the ablation (BENCHMARKS.md): LeakyReLU(0.2).
    leaky = architectures.dcgan_generator((16, 16, 1), latent_dim=LATENT, base_filters=FILTERS)
    names = ["project_relu", "up1_relu", "up2_relu"]
    assert all(type(relu.get_layer(name)) is keras.layers.ReLU for name in names)
    assert all(leaky.get_layer(name).negative_slope == pytest.approx(0.2) for name in names)
    # Same weights, so the same pre-activations: LeakyReLU(x) = x for x >= 0, 0.2 x below.
    leaky.set_weights(relu.get_weights())
    probe = keras.Model(leaky.input, leaky.get_layer("project_bn").output)
    before = np.asarray(probe(_latent(4), training=False))
    after = np.asarray(keras.Model(leaky.input, leaky.get_layer("project_relu").output)(_latent(4)))
    np.testing.assert_allclose(after, np.where(before >= 0, before, 0.2 * before), rtol=1e-6)
    for bad in (-0.1, 1.0, True, "0.2"):
        message = re.escape(f"negative_slope must be a number in [0, 1), got {bad!r}")
        with pytest.raises(ValueError, match=message):
            architectures.dcgan_generator((8, 8, 1), negative_slope=bad)


@pytest.mark.parametrize("upsampling", ["transpose", "nearest"])
def test_generator_parameter_count_by_hand(upsampling):
    latent, filters, kernel = 5, 3, 3
    gen = architectures.dcgan_generator(
        (8, 8, 1), latent, filters, upsampling=upsampling, kernel_size=kernel
    )
    start = 2 * filters  # one block: 4x4 with 2 * base_filters, then 8x8 with base_filters
    expected = (
        latent * 16 * start  # projection, no bias before batch norm
        + 4 * start  # its batch norm: gamma, beta, moving mean and variance
        + kernel * kernel * start * filters  # the block's convolution, no bias
        + 4 * filters  # its batch norm
        + 3 * 3 * filters * 1
        + 1  # to_image, with bias
    )
    assert gen.count_params() == expected


def test_bilinear_resize_matches_numpy():
    gen = architectures.dcgan_generator(
        (8, 8, 1), latent_dim=LATENT, base_filters=FILTERS, upsampling="bilinear"
    )
    resize = gen.get_layer("up1_resize")
    x = np.random.default_rng(0).normal(size=(1, 4, 4, 1)).astype(np.float32)
    got = np.asarray(resize(x))[0, :, :, 0]
    # Half-pixel centres: output pixel i samples input position (i + 0.5) / 2 - 0.5, clamped.
    pos = np.clip((np.arange(8) + 0.5) / 2 - 0.5, 0, 3)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, 3)
    w = pos - lo
    rows = x[0, lo, :, 0] * (1 - w)[:, None] + x[0, hi, :, 0] * w[:, None]
    want = rows[:, lo] * (1 - w)[None, :] + rows[:, hi] * w[None, :]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "build, message",
    [
        (
            lambda: architectures.dcgan_generator((8, 8, 1), upsampling="bicubic"),
            "upsampling must be one of",
        ),
        (
            lambda: architectures.dcgan_generator((8, 8, 1), batch_norm=1),
            "batch_norm must be a bool",
        ),
        (
            lambda: architectures.dcgan_generator((8, 8, 1), kernel_size=0),
            "kernel_size must be a positive int",
        ),
        (
            lambda: architectures.dcgan_generator((8, 8, 1), kernel_size=99),
            "kernel_size must be at most 15",
        ),
        (
            lambda: architectures.dcgan_discriminator((8, 8, 1), kernel_size=2.5),
            "kernel_size must be a positive int",
        ),
        (
            lambda: architectures.dcgan_discriminator((8, 8, 1), extra_convs=-1),
            r"extra_convs must be an int in \[0, 8\]",
        ),
        (
            lambda: architectures.dcgan_discriminator((8, 8, 1), extra_convs=True),
            r"extra_convs must be an int in \[0, 8\]",
        ),
        (
            lambda: architectures.dcgan_discriminator((8, 8, 1), extra_convs=9),
            r"extra_convs must be an int in \[0, 8\]",
        ),
        (
            lambda: architectures.dcgan_generator((8, 8, 1), num_classes=3, batch_norm=False),
            "batch_norm=False is not available with num_classes",
        ),
    ],
)
def test_bad_builder_options(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_dcgan_generator_resizes_from_32_pixels_up_and_transposes_below():
    def kinds(side):
        model = architectures.dcgan_generator((side, side, 3), latent_dim=8, base_filters=4)
        return {type(layer).__name__ for layer in model.layers}

    assert architectures.NEAREST_UPSAMPLING_MIN_SIDE == 32
    assert "Conv2DTranspose" in kinds(16) and "UpSampling2D" not in kinds(16)
    assert "UpSampling2D" in kinds(32) and "Conv2DTranspose" not in kinds(32)
    explicit = architectures.dcgan_generator((32, 32, 3), 8, 4, upsampling="transpose")
    assert any(type(layer).__name__ == "Conv2DTranspose" for layer in explicit.layers)
