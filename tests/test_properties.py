"""Property-based tests (hypothesis): hostile files and invalid hyperparameters.

The contract checked here: bad input to a public constructor, `compile` or `tfgen.data.load`
raises a `ValueError` that names the argument (wrong types included: tfgen raises ValueError,
not TypeError, for every bad argument), and a folder of images with unreadable files in it loads
its good images and skips the rest, counted in one warning; nothing crashes or hangs.
"""

import io
import math
import os
import warnings

import keras
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

import tfgen
from tfgen import architectures, corruptions, optimizers
from tfgen.models import GAN, Autoencoder

FILE_SETTINGS = settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
ARGUMENT_SETTINGS = settings(max_examples=25, deadline=None)


def _png(seed, size=6):
    pixels = np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def _jpeg(seed, size=6):
    pixels = np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG")
    return buffer.getvalue()


def _huge_png_header():
    """A PNG whose header declares 100000 x 100000 pixels (its data is one tiny row)."""
    png = bytearray(_png(0, size=1))
    # IHDR's width and height follow the 8-byte signature, the chunk length and "IHDR".
    png[16:24] = (100_000).to_bytes(4, "big") * 2
    return bytes(png)


# A hostile file: (name suffix, bytes). Truncated files are cut at a random point.
hostile_files = st.one_of(
    st.tuples(st.sampled_from([".png", ".jpg", ".gif", ".bmp"]), st.binary(max_size=300)),
    st.integers(1, 60).map(lambda cut: (".png", _png(1)[:cut])),
    st.integers(1, 200).map(lambda cut: (".png", _jpeg(2)[:cut] + b"\0")),
    st.just((".png", b"")),
    st.just((".png", b"not an image at all")),
    st.just((".png", _huge_png_header())),
    # Mislabeled: complete images under another format's extension (decoded by their content).
    st.just((".png", _jpeg(3))),
    st.just((".jpg", _png(4))),
)


def _write(folder, name, content):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as file:
        file.write(content)


def _load_all(name, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = tfgen.data.load(
            name,
            image_size=4,
            channels=3,
            batch_size=1,
            shuffle=False,
            drop_remainder=False,
            **kwargs,
        )
        elements = list(data)
    skipped = [w for w in caught if "Skipped" in str(w.message)]
    return elements, skipped


@FILE_SETTINGS
@given(bad=st.lists(hostile_files, min_size=1, max_size=4), good=st.integers(1, 3))
def test_folder_loader_keeps_good_images_and_counts_the_rest(tmp_path_factory, bad, good):
    folder = tmp_path_factory.mktemp("images")
    for index in range(good):
        _write(folder, f"good{index}.png", _png(10 + index))
    for index, (suffix, content) in enumerate(bad):
        _write(folder, f"bad{index}{suffix}", content)
    images, skipped = _load_all(f"folder:{folder}")
    # A truncated JPEG may still decode (libjpeg fills the missing rows): between the good
    # files and all of them load, and the warning counts exactly the ones that did not.
    assert good <= len(images) <= good + len(bad)
    for image in images:
        assert image.shape == (1, 4, 4, 3)
        assert np.all(np.isfinite(image.numpy()))
    missing = good + len(bad) - len(images)
    if missing:
        assert len(skipped) == 1 and f"Skipped {missing} of {good + len(bad)}" in str(
            skipped[0].message
        )
    else:
        assert not skipped


@FILE_SETTINGS
@given(
    labelled=st.lists(st.tuples(st.integers(0, 2), hostile_files), min_size=1, max_size=3),
    stray=st.booleans(),
)
def test_labelled_folder_skips_bad_files_and_refuses_stray_ones(tmp_path_factory, labelled, stray):
    folder = tmp_path_factory.mktemp("classes")
    for label in range(3):
        _write(folder / f"class{label}", "good.png", _png(label))
    for index, (label, (suffix, content)) in enumerate(labelled):
        _write(folder / f"class{label}", f"bad{index}{suffix}", content)
    if stray:  # An image outside every class folder has no label: refused, not guessed.
        _write(folder, "stray.png", _png(5))
        with pytest.raises(ValueError, match="one sub-folder per class"):
            _load_all(f"folder:{folder}", with_labels=True)
        return
    elements, _ = _load_all(f"folder:{folder}", with_labels=True)
    labels = sorted(int(label.numpy()[0]) for _, label in elements)
    assert set(labels) >= {0, 1, 2}
    assert 3 <= len(labels) <= 3 + len(labelled)


# Values that are invalid for every argument tested below.
nonsense = st.one_of(
    st.none(),
    st.text(max_size=3),
    st.lists(st.integers(), max_size=2),
    st.just(math.nan),
    st.just(-math.inf),
    st.just(math.inf),
    st.just(object()),
)
negative_ints = st.integers(max_value=0)
nonpositive_numbers = st.one_of(negative_ints, st.floats(max_value=0.0, allow_nan=False))
bools = st.booleans()
non_int_numbers = st.floats(allow_nan=False).filter(lambda v: not float(v).is_integer())


def _quality_range(value):
    """Whether `value` is a valid JPEG quality range: a pair low <= high of ints in [1, 100]."""
    return (
        isinstance(value, list)
        and len(value) == 2
        and all(type(v) is int and 1 <= v <= 100 for v in value)
        and value[0] <= value[1]
    )


def _tiny_gan():
    return GAN(
        architectures.dcgan_generator((8, 8, 1), latent_dim=4, base_filters=4),
        architectures.dcgan_discriminator((8, 8, 1), base_filters=4),
        seed=0,
    )


def _tiny_autoencoder():
    return Autoencoder(
        architectures.conv_encoder((8, 8, 1), 4, base_filters=4),
        architectures.conv_decoder(4, (8, 8, 1), base_filters=4),
    )


# (what is called, the argument's name, strategy of values invalid for it)
POSITIVE_INT = st.one_of(nonsense, negative_ints, bools, non_int_numbers, st.integers(10**6))
CASES = {
    "dcgan_generator.latent_dim": (
        lambda v: architectures.dcgan_generator((8, 8, 1), latent_dim=v, base_filters=4),
        "latent_dim",
        POSITIVE_INT,
    ),
    "dcgan_generator.base_filters": (
        lambda v: architectures.dcgan_generator((8, 8, 1), latent_dim=4, base_filters=v),
        "base_filters",
        POSITIVE_INT,
    ),
    "dcgan_generator.image_shape": (
        lambda v: architectures.dcgan_generator(v, latent_dim=4, base_filters=4),
        "image_shape",
        st.one_of(
            nonsense,
            st.tuples(st.integers(-5, 5), st.integers(-5, 5), st.integers(-5, 5)),
            st.tuples(st.integers(9, 15), st.integers(9, 15), st.just(1)),
        ),
    ),
    "dcgan_discriminator.num_classes": (
        lambda v: architectures.dcgan_discriminator((8, 8, 1), base_filters=4, num_classes=v),
        "num_classes",
        st.one_of(negative_ints, bools, non_int_numbers, st.integers(10**7), st.text(max_size=2)),
    ),
    "conv_encoder.base_filters": (
        lambda v: architectures.conv_encoder((8, 8, 1), 4, base_filters=v),
        "base_filters",
        POSITIVE_INT,
    ),
    "unet.depth": (
        lambda v: architectures.unet((8, 8, 1), base_filters=4, depth=v),
        "depth",
        st.one_of(nonsense, st.integers(max_value=-1), st.integers(4), non_int_numbers),
    ),
    "Nesterov.learning_rate": (
        lambda v: optimizers.Nesterov(learning_rate=v),
        "learning_rate",
        st.one_of(st.floats(max_value=-1e-9), st.just(math.nan), st.just(math.inf)),
    ),
    "Nesterov.momentum": (
        lambda v: optimizers.Nesterov(momentum=v),
        "momentum",
        st.one_of(nonsense, bools, st.floats(min_value=1.0), st.floats(max_value=-1e-9)),
    ),
    "Nesterov.maximize": (
        lambda v: optimizers.Nesterov(maximize=v),
        "maximize",
        st.one_of(nonsense, st.integers(), st.floats()),
    ),
    "Adam.epsilon": (
        lambda v: optimizers.Adam(epsilon=v),
        "epsilon",
        st.one_of(nonsense, bools, nonpositive_numbers),
    ),
    "Adam.beta_2": (
        lambda v: optimizers.Adam(beta_2=v),
        "beta_2",
        st.one_of(nonsense, bools, st.floats(min_value=1.0), st.floats(max_value=-1e-9)),
    ),
    "ConjugateGradient.method": (
        lambda v: optimizers.ConjugateGradient(method=v),
        "method",
        st.one_of(st.text(max_size=8), st.integers(), st.none()),
    ),
    "GAN.seed": (
        lambda v: GAN(
            architectures.dcgan_generator((8, 8, 1), latent_dim=4, base_filters=4),
            architectures.dcgan_discriminator((8, 8, 1), base_filters=4),
            seed=v,
        ),
        "seed",
        st.one_of(bools, st.floats(), st.text(max_size=2), st.lists(st.integers(), max_size=2)),
    ),
    "GAN.compile.discriminator_steps": (
        lambda v: _tiny_gan().compile(discriminator_steps=v),
        "discriminator_steps",
        POSITIVE_INT,
    ),
    "GAN.compile.generator_ema": (
        lambda v: _tiny_gan().compile(generator_ema=v),
        "generator_ema",
        st.one_of(bools, st.floats(min_value=1.0), st.floats(max_value=-1e-9), st.text(max_size=2)),
    ),
    "GAN.compile.loss": (
        lambda v: _tiny_gan().compile(loss=v),
        "loss",
        st.one_of(st.text(max_size=8), st.integers(), st.none()),
    ),
    "GAN.compile.generator_optimizer": (
        lambda v: _tiny_gan().compile(generator_optimizer=v),
        "generator_optimizer",
        st.one_of(st.text(alphabet="xyz", max_size=4), st.integers(), st.floats(), bools),
    ),
    "Autoencoder.kl_weight": (
        lambda v: Autoencoder(
            architectures.conv_encoder((8, 8, 1), 4, variational=True, base_filters=4),
            architectures.conv_decoder(4, (8, 8, 1), base_filters=4),
            variational=True,
            kl_weight=v,
        ),
        "kl_weight",
        st.one_of(nonsense, bools, st.floats(max_value=-1e-9)),
    ),
    "Autoencoder.loss": (
        lambda v: Autoencoder(
            architectures.conv_encoder((8, 8, 1), 4, base_filters=4),
            architectures.conv_decoder(4, (8, 8, 1), base_filters=4),
            loss=v,
        ),
        "loss",
        st.one_of(st.text(alphabet="xyz", max_size=4), st.integers(), st.none()),
    ),
    "Autoencoder.compile.optimizer": (
        lambda v: _tiny_autoencoder().compile(optimizer=v),
        "optimizer",
        st.one_of(st.text(alphabet="xyz", max_size=4), st.integers(), st.floats(), bools),
    ),
    "GaussianNoise.stddev": (
        corruptions.GaussianNoise,
        "stddev",
        st.one_of(nonsense, bools, st.floats(max_value=-1e-9)),
    ),
    "JPEG.quality": (
        corruptions.JPEG,
        "quality",
        st.one_of(
            nonsense.filter(lambda v: not _quality_range(v)),
            bools,
            st.integers(max_value=0),
            st.integers(101),
        ),
    ),
    "load.batch_size": (
        lambda v: tfgen.data.load("digits", batch_size=v),
        "batch_size",
        st.one_of(nonsense, negative_ints, bools, non_int_numbers),
    ),
    "load.seed": (
        lambda v: tfgen.data.load("digits", seed=v),
        "seed",
        st.one_of(bools, st.floats(), st.text(max_size=2), st.lists(st.integers(), max_size=2)),
    ),
    "load.shuffle": (
        lambda v: tfgen.data.load("digits", shuffle=v),
        "shuffle",
        st.one_of(nonsense, st.integers(), st.floats()),
    ),
    "load.drop_remainder": (
        lambda v: tfgen.data.load("digits", drop_remainder=v),
        "drop_remainder",
        st.one_of(nonsense, st.integers(), st.floats()),
    ),
    "load.max_pixels": (
        lambda v: tfgen.data.load("digits", max_pixels=v),
        "max_pixels",
        st.one_of(nonsense, negative_ints, bools, non_int_numbers),
    ),
    "load.value_range": (
        lambda v: tfgen.data.load("digits", value_range=v),
        "value_range",
        st.one_of(
            st.none(),
            st.text(max_size=3),
            st.just(math.nan),
            st.lists(st.integers(), max_size=1),
            st.tuples(st.floats(allow_nan=False), st.floats(allow_nan=False)).filter(
                lambda pair: not pair[0] < pair[1]
            ),
        ),
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_invalid_arguments_raise_value_errors_naming_them(case):
    call, argument, values = CASES[case]

    @ARGUMENT_SETTINGS
    @given(value=values)
    def check(value):
        with pytest.raises(ValueError, match=argument):
            call(value)

    check()
    keras.backend.clear_session()
