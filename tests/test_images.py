"""tfgen.images against independent references: numpy closed forms, Pillow and scipy."""

import numpy as np
import pytest
import scipy.ndimage
import tensorflow as tf
from PIL import Image

from tfgen import images

RNG = np.random.default_rng(0)


def test_range_maps_are_the_linear_maps_and_inverse():
    x = np.array([-1.0, -0.5, 0.0, 0.25, 1.0], np.float32)
    np.testing.assert_allclose(images.to_unit_range(x), [0.0, 0.25, 0.5, 0.625, 1.0])
    np.testing.assert_allclose(images.to_model_range(images.to_unit_range(x)), x, atol=1e-7)
    # Clipped unless asked not to; tensors stay tensors.
    np.testing.assert_allclose(images.to_unit_range(np.array([-3.0, 3.0])), [0.0, 1.0])
    np.testing.assert_allclose(images.to_unit_range(np.array([-3.0, 3.0]), clip=False), [-1, 2])
    unit = images.to_unit_range(tf.constant(x, tf.float64))
    assert isinstance(unit, tf.Tensor) and unit.dtype == tf.float32
    assert isinstance(images.to_model_range([0.5]), np.ndarray)


@pytest.mark.parametrize(
    "size, expected",
    [(5, (5, 5)), (np.int64(7), (7, 7)), ((3, np.int32(4)), (3, 4)), ([2, 9], (2, 9))],
)
def test_image_size_accepts_python_and_numpy_ints(size, expected):
    parsed = images.image_size(size)
    assert parsed == expected and all(type(side) is int for side in parsed)


@pytest.mark.parametrize(
    "size", [True, 0, -2, 3.0, (3,), (3, 4, 5), (3, 0), (True, 4), "64", None, (2.5, 3)]
)
def test_image_size_refuses_bools_floats_and_non_positive_naming_the_argument(size):
    with pytest.raises(ValueError, match="my_size must be an int >= 1"):
        images.image_size(size, "my_size")


def test_image_size_refuses_too_many_pixels():
    with pytest.raises(ValueError, match="size=.*more than the 100 allowed"):
        images.image_size((11, 10), "size", maximum=100)
    assert images.image_size((10, 10), "size", maximum=100) == (10, 10)


@pytest.mark.parametrize(
    "shape, size, window",
    [
        ((40, 60), 10, (40, 40)),
        ((60, 40), (1, 1), (40, 40)),
        ((40, 60), (10, 20), (30, 60)),
        ((40, 60), (30, 10), (40, 13)),
        ((7, 9), (7, 9), (7, 9)),
    ],
)
def test_crop_to_aspect_takes_the_largest_central_window(shape, size, window):
    array = RNG.random((*shape, 3))
    cropped = images.crop_to_aspect(array, size)
    top, left = (shape[0] - window[0]) // 2, (shape[1] - window[1]) // 2
    np.testing.assert_array_equal(cropped, array[top : top + window[0], left : left + window[1]])
    tensor = images.crop_to_aspect(tf.constant(array[None]), size)
    np.testing.assert_array_equal(tensor.numpy()[0], cropped)


@pytest.mark.parametrize("size", [(16, 20), (37, 53), (64, 80)])
def test_resize_default_is_pillows_antialiased_bilinear(size):
    channel = RNG.random((37, 53)).astype(np.float32)
    ours = images.resize(channel[:, :, None], size)[:, :, 0]
    pillow = np.asarray(Image.fromarray(channel, "F").resize(size[::-1], Image.BILINEAR))
    np.testing.assert_allclose(ours, pillow, atol=1e-5)
    batch = images.resize(tf.constant(channel[None, :, :, None]), size)
    assert isinstance(batch, tf.Tensor) and tuple(batch.shape) == (1, *size, 1)


def test_luminance_is_bt601():
    rgb = RNG.integers(0, 256, (8, 9, 3), dtype=np.uint8)
    pillow = np.asarray(Image.fromarray(rgb).convert("L"), np.float32)
    ours = images.luminance(rgb.astype(np.float32))[..., 0]
    assert np.abs(ours - pillow).max() <= 0.5 + 1e-3  # Pillow rounds to integers
    np.testing.assert_allclose(images.luminance(np.array([[1.0, 0.0, 0.0]])), [[0.299]])
    tensor = images.luminance(tf.constant(rgb[None], tf.float32))
    np.testing.assert_allclose(tensor.numpy()[0, ..., 0], ours, rtol=1e-6)
    np.testing.assert_allclose(images.luminance([[0.0, 1.0, 0.0]]), [[0.587]], rtol=1e-6)
    assert images.resize([[[0.5]]], 2).shape == (2, 2, 1)
    with pytest.raises(ValueError, match="3 channels"):
        images.luminance(np.zeros((2, 2, 1)))


@pytest.mark.parametrize("sigma", [0.5, 1.0, 1.7])
def test_gaussian_blur_is_scipys_truncated_at_4_sigma_reflected(sigma):
    batch = RNG.random((2, 17, 19, 3)).astype(np.float32)
    ours = images.gaussian_blur(batch, sigma).numpy()
    reference = scipy.ndimage.gaussian_filter(batch, (0, sigma, sigma, 0), mode="reflect")
    np.testing.assert_allclose(ours, reference, atol=1e-5)


def test_gaussian_blur_of_zero_is_identity_and_negative_is_refused():
    batch = RNG.random((1, 5, 5, 1)).astype(np.float32)
    np.testing.assert_array_equal(images.gaussian_blur(batch, 0.0).numpy(), batch)
    with pytest.raises(ValueError, match="sigma must be a finite number >= 0"):
        images.gaussian_blur(batch, -1.0)
    with pytest.raises(ValueError, match=r"sigma=2 reaches 8 pixels .* side 5"):
        images.gaussian_blur(batch, 2.0)


def test_check_range_passes_the_slack_and_names_the_argument():
    images.check_range(np.array([-1.0005, 1.0005]))
    with pytest.raises(ValueError, match=r"pixels must lie in \[-1, 1\].*got values in \[0, 255\]"):
        images.check_range(np.array([0.0, 255.0]), "pixels")
    with pytest.raises(ValueError, match=r"x must lie in \[0, 1\] \(photo\).*\[-0.5, 1\].*x / 255"):
        images.check_range(np.array([-0.5, 1.0]), "x", images.UNIT_RANGE, "photo")
    with pytest.raises(ValueError, match="x: 1 non-finite values"):
        images.check_range(np.array([0.0, np.nan]), "x")
    with pytest.raises(ValueError, match="x: empty"):
        images.check_range(np.zeros((0, 3)), "x")


def test_load_image_reads_a_file_with_pillow(tmp_path):
    rgb = RNG.integers(0, 256, (30, 40, 3), dtype=np.uint8)
    path = tmp_path / "picture.png"
    Image.fromarray(rgb).save(path)
    np.testing.assert_array_equal(images.load_image(str(path)), rgb / np.float32(255))
    resized = images.load_image(path, (10, 10))  # central 30 x 30, then 10 x 10
    square = Image.fromarray(rgb[:, 5:35].astype(np.float32)[..., 0], "F")
    expected = np.asarray(square.resize((10, 10), Image.BILINEAR)) / 255
    np.testing.assert_allclose(resized[..., 0], expected, atol=1e-5)


def test_load_image_names_every_bundled_photograph_with_or_without_prefix():
    import skimage.data

    names = images.photo_names()
    assert len(names) == 10 and {"grace_hopper", "coffee", "astronaut"} <= set(names)
    coffee = images.load_image("coffee")
    np.testing.assert_array_equal(coffee, skimage.data.coffee() / np.float32(255))
    np.testing.assert_array_equal(
        images.load_image("photo:coffee", 16), images.load_image("coffee", 16)
    )
    assert images.load_image("photo:china", (8, 12)).shape == (8, 12, 3)


def test_load_image_of_arrays():
    grey = RNG.random((6, 8, 1)).astype(np.float64)
    loaded = images.load_image(grey)
    assert loaded.dtype == np.float32 and loaded.shape == (6, 8, 1)
    np.testing.assert_allclose(loaded, grey, rtol=1e-6)
    assert images.load_image(np.full((4, 4, 3), 255, np.uint8)).max() == 1.0


@pytest.mark.parametrize(
    "image, match",
    [
        ("no_such_photo", "image must be an image file or a bundled photograph NAME"),
        ("photo:nope", "photo:NAME needs NAME in"),
        (np.zeros((4, 4)), r"array \(H, W, C\)"),
        (np.zeros((4, 4, 2)), r"array \(H, W, C\)"),
        (np.full((4, 4, 3), 2.0), r"image must lie in \[0, 1\]"),
        (np.full((4, 4, 3), np.nan), "non-finite"),
        (np.zeros((4, 4, 3), bool), "uint8 or floats"),
    ],
)
def test_load_image_refuses_bad_images(image, match):
    with pytest.raises(ValueError, match=match):
        images.load_image(image)


def test_load_image_refuses_a_bad_size_before_reading():
    with pytest.raises(ValueError, match="size must be an int >= 1"):
        images.load_image("no_such_photo", 2.5)


def test_gaussian_blur_is_the_blur_of_the_corruptions():
    from tfgen import corruptions

    batch = RNG.uniform(-1, 1, (2, 20, 23, 3)).astype(np.float32)
    for sigma in (0.5, 2.0):
        theirs = corruptions.GaussianBlur(sigma)(batch, 0).numpy()
        np.testing.assert_allclose(images.gaussian_blur(batch, sigma).numpy(), theirs, atol=1e-6)
