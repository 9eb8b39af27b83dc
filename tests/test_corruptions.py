"""Corruptions: statistics against numpy/scipy, determinism, replicas, serialisation, bad input."""

import keras
import numpy as np
import pytest
import scipy.ndimage
import scipy.stats
import tensorflow as tf
from PIL import Image

from tfgen import corruptions
from tfgen.corruptions import (
    JPEG,
    Compose,
    CorruptionFunction,
    Downsample,
    GaussianBlur,
    GaussianNoise,
    RandomMask,
)


def _images(n=4, side=8, channels=3, seed=0):
    return (
        np.random.default_rng(seed).uniform(-0.5, 0.5, (n, side, side, channels)).astype(np.float32)
    )


def test_gaussian_noise_statistics():
    stddev = 0.1
    clean = np.zeros((64, 8, 8, 3), np.float32)
    noise = GaussianNoise(stddev)(clean, seed=3).numpy() - clean
    n = noise.size
    # Sample mean and standard deviation within 4 standard errors of N(0, stddev^2).
    assert abs(noise.mean()) < 4 * stddev / np.sqrt(n)
    assert abs(noise.std() - stddev) < 4 * stddev / np.sqrt(2 * n)
    # And the values are normal (Kolmogorov-Smirnov), independent across pixels and channels.
    assert scipy.stats.kstest(noise.ravel() / stddev, "norm").pvalue > 1e-3
    flat = noise.reshape(-1, 3)
    correlation = np.corrcoef(flat, rowvar=False)
    assert np.all(np.abs(correlation - np.eye(3)) < 4 / np.sqrt(len(flat)))


def test_gaussian_noise_is_clipped_to_the_image_range():
    clean = np.full((16, 8, 8, 1), 0.9, np.float32)
    noisy = GaussianNoise(0.5)(clean, seed=0).numpy()
    assert noisy.max() == 1.0 and noisy.min() >= -1.0
    # 0.9 + 0.5 z reaches 1 when z > 0.2: that share of the pixels is clipped to exactly 1.
    clipped = 1 - scipy.stats.norm.cdf(0.2)
    assert abs((noisy == 1.0).mean() - clipped) < 4 * np.sqrt(clipped * (1 - clipped) / noisy.size)
    unclipped = GaussianNoise(0.5, clip=False)(clean, seed=0).numpy()
    assert unclipped.max() > 1.0
    np.testing.assert_allclose(np.clip(unclipped, -1, 1), noisy, atol=1e-6)


@pytest.mark.parametrize("fraction, patch_size", [(0.25, 1), (0.25, 4), (0.6, 3)])
def test_random_mask_masks_the_fraction_in_square_blocks(fraction, patch_size):
    side, n = 16, 200
    clean = _images(n, side, 3)
    corruption = RandomMask(fraction, patch_size, fill_value=-0.75)
    known = corruption.mask(clean, seed=7).numpy()
    assert known.shape == (n, side, side, 1)
    assert set(np.unique(known)) <= {0.0, 1.0}
    # Each pixel is masked with probability `fraction`; the blocks (about (side / p + 1)^2 per
    # image) are independent, so the masked share has standard error <= sqrt(f (1 - f) / blocks).
    blocks = n * (side // patch_size) ** 2
    assert abs((1 - known).mean() - fraction) < 4 * np.sqrt(fraction * (1 - fraction) / blocks)
    # Each image's mask is constant on the blocks of a grid of step `patch_size`, at some offset.
    for image in known[:20, ..., 0]:
        assert any(
            _constant_on_grid(image, patch_size, dy, dx)
            for dy in range(patch_size)
            for dx in range(patch_size)
        )
    # The corruption writes fill_value into every channel of the masked pixels, keeps the rest.
    corrupted = corruption(clean, seed=7).numpy()
    expected = np.where(known == 1.0, clean, np.float32(-0.75))
    np.testing.assert_array_equal(corrupted, expected)


def _constant_on_grid(mask, p, dy, dx):
    """Whether `mask` is constant on every block ((i + dy) // p, (j + dx) // p)."""
    rows = (np.arange(mask.shape[0]) + dy) // p
    cols = (np.arange(mask.shape[1]) + dx) // p
    ids = (rows[:, None] * (cols.max() + 1) + cols[None, :]).ravel()
    low = np.full(ids.max() + 1, np.inf)
    high = np.full(ids.max() + 1, -np.inf)
    np.minimum.at(low, ids, mask.ravel())
    np.maximum.at(high, ids, mask.ravel())
    used = np.isfinite(low)
    return bool(np.all(low[used] == high[used]))


def test_random_mask_extremes():
    clean = _images()
    np.testing.assert_array_equal(RandomMask(0.0, 2)(clean, seed=1).numpy(), clean)
    np.testing.assert_array_equal(RandomMask(1.0, 2, fill_value=0.5)(clean, seed=1), 0.5)


def _smooth_images(n=2, height=17, width=24, channels=3, seed=0):
    """Random images, smoothed so that they resemble photographs more than white noise."""
    noise = np.random.default_rng(seed).uniform(-1, 1, (n, height, width, channels))
    return scipy.ndimage.gaussian_filter(noise, (0, 1, 1, 0)).astype(np.float32)


def _pillow_resize(images, size, method):
    """Each channel resized by Pillow on float ("F") images: (width, height) = size."""
    out = np.empty((len(images), size[1], size[0], images.shape[-1]), np.float32)
    for b, image in enumerate(images):
        for c in range(images.shape[-1]):
            out[b, ..., c] = np.asarray(
                Image.fromarray(image[..., c], mode="F").resize(size, method)
            )
    return out


@pytest.mark.parametrize("factor", [2, 3, 4])
@pytest.mark.parametrize(
    "method, pillow", [("bicubic", Image.BICUBIC), ("bilinear", Image.BILINEAR)]
)
def test_downsample_matches_pillow(factor, method, pillow):
    clean = _smooth_images(height=17, width=24)  # odd and even sides, not all divisible
    down = _pillow_resize(clean, (24 // factor, 17 // factor), pillow)
    expected = np.clip(_pillow_resize(down, (24, 17), pillow), -1, 1)
    corruption = Downsample(factor, method)
    corrupted = corruption(clean).numpy()
    assert corrupted.shape == clean.shape
    np.testing.assert_allclose(corrupted, expected, atol=1e-5)
    # Compiled by XLA (static sides: matrix products) and traced with unknown sides
    # (tf.image.resize itself), the same images.
    compiled = tf.function(corruption.call, jit_compile=True)
    seed = corruptions.as_seed(0)
    np.testing.assert_allclose(compiled(clean, seed).numpy(), expected, atol=1e-5)
    unknown_sides = tf.TensorSpec([None, None, None, clean.shape[-1]], tf.float32)
    seed_spec = tf.TensorSpec([2], tf.int64)
    traced = tf.function(corruption.call, input_signature=[unknown_sides, seed_spec])
    np.testing.assert_allclose(traced(clean, seed).numpy(), expected, atol=1e-5)


@pytest.mark.parametrize("sigma", [0.6, 1.5, 7.0])
def test_gaussian_blur_matches_scipy(sigma):
    clean = _smooth_images(height=9, width=12)  # 7.0: the kernel is wider than the image
    expected = scipy.ndimage.gaussian_filter(clean, (0, sigma, sigma, 0), mode="reflect")
    np.testing.assert_allclose(GaussianBlur(sigma)(clean).numpy(), expected, atol=1e-6)
    np.testing.assert_array_equal(GaussianBlur(0)(clean).numpy(), clean)


def test_gaussian_blur_range_draws_one_sigma_per_example():
    clean = _smooth_images(n=8, height=12, width=12)
    blurred = GaussianBlur((0.5, 3.0))(clean, seed=5).numpy()
    # Each example matches scipy for exactly one sigma of [0.5, 3]; find it by a fine search.
    sigmas = np.linspace(0.5, 3.0, 251)
    found = []
    for image, out in zip(clean, blurred, strict=True):
        errors = [
            np.abs(scipy.ndimage.gaussian_filter(image, (s, s, 0)) - out).max() for s in sigmas
        ]
        assert min(errors) < 2e-3
        found.append(sigmas[int(np.argmin(errors))])
    assert np.ptp(found) > 0.5  # the sigmas differ between examples


@pytest.mark.parametrize("channels", [1, 3])
def test_jpeg_matches_tensorflow_round_trip(channels):
    clean = _smooth_images(n=2, height=16, width=24, channels=channels)
    corrupted = JPEG(12)(clean, seed=0).numpy()
    for image, out in zip(clean, corrupted, strict=True):
        pixels = np.round(np.clip((image + 1) * 127.5, 0, 255)).astype(np.uint8)
        decoded = tf.io.decode_jpeg(tf.io.encode_jpeg(pixels, quality=12)).numpy()
        np.testing.assert_allclose(out, decoded / 127.5 - 1.0, atol=1e-6)
    # Lower quality, larger error.
    errors = [np.abs(JPEG(q)(clean, seed=0).numpy() - clean).mean() for q in (5, 30, 95)]
    assert errors[0] > errors[1] > errors[2]


def test_jpeg_quality_range_draws_integer_qualities_per_example():
    clean = _smooth_images(n=6, height=16, width=16)
    corrupted = JPEG((10, 20))(clean, seed=2).numpy()
    for image, out in zip(clean, corrupted, strict=True):
        pixels = np.round(np.clip((image + 1) * 127.5, 0, 255)).astype(np.uint8)
        matches = [
            q
            for q in range(10, 21)
            if np.array_equal(
                tf.io.decode_jpeg(tf.io.encode_jpeg(pixels, quality=q)).numpy(),
                np.round((out + 1) * 127.5).astype(np.uint8),
            )
        ]
        assert matches  # some quality in [10, 20] reproduces this example exactly


def test_compose_applies_each_corruption_with_its_own_seed():
    clean = _smooth_images(n=3, height=12, width=12)
    chain = Compose([GaussianBlur(1.0), GaussianNoise(0.1), JPEG(50)])
    seed = tf.constant([4, 7], tf.int64)
    expected = GaussianBlur(1.0)(clean)
    expected = GaussianNoise(0.1)(expected, tf.random.experimental.stateless_fold_in(seed, 1))
    expected = JPEG(50)(expected, tf.random.experimental.stateless_fold_in(seed, 2))
    np.testing.assert_allclose(chain(clean, seed).numpy(), expected.numpy(), atol=1e-6)


_RANDOM_CORRUPTIONS = [
    GaussianNoise(0.3),
    RandomMask(0.5, 2),
    GaussianBlur((0.5, 2.0)),
    JPEG((10, 60)),
    Compose([Downsample(2), GaussianNoise(0.1)]),
]


@pytest.mark.parametrize("corruption", _RANDOM_CORRUPTIONS, ids=repr)
def test_corruptions_are_deterministic_per_seed(corruption):
    clean = _images()
    first = corruption(clean, seed=11).numpy()
    np.testing.assert_array_equal(first, corruption(clean, seed=11).numpy())
    np.testing.assert_array_equal(first, corruption(clean, seed=[11, 0]).numpy())
    assert not np.array_equal(first, corruption(clean, seed=12).numpy())
    # Per-example draws: the first images get the same corruption inside a larger batch.
    larger = np.concatenate([clean, _images(seed=1)])
    np.testing.assert_array_equal(corruption(larger, seed=11).numpy()[:4], first)


@pytest.mark.parametrize("corruption", _RANDOM_CORRUPTIONS, ids=repr)
def test_same_corruption_per_example_on_one_and_two_replicas(corruption, two_replicas):
    clean = _images(n=6)
    seed = tf.constant([5, 9], tf.int64)
    single = corruption(clean, seed).numpy()
    strategy = two_replicas
    dataset = tf.data.Dataset.from_tensor_slices(clean).batch(6)
    batch = next(iter(strategy.experimental_distribute_dataset(dataset)))

    @tf.function
    def run(images):
        return strategy.run(lambda x: corruption.call(x, seed), args=(images,))

    parts = strategy.experimental_local_results(run(batch))
    assert [p.shape[0] for p in parts] == [3, 3]
    np.testing.assert_allclose(np.concatenate([p.numpy() for p in parts]), single, atol=1e-6)


def test_callable_corruptions():
    clean = _images()

    def flip(images):
        return -images

    def noisy(images, seed):
        return images + tf.random.stateless_uniform(tf.shape(images), seed, -0.1, 0.1)

    np.testing.assert_allclose(corruptions.get(flip)(clean, seed=0), -clean)
    out = corruptions.get(noisy)(clean, seed=3).numpy()
    assert np.all(np.abs(out - clean) <= 0.1 + 1e-6)
    np.testing.assert_array_equal(out, corruptions.get(noisy)(clean, seed=3).numpy())
    assert isinstance(corruptions.get(flip), CorruptionFunction)
    with pytest.raises(ValueError, match="rank 4"):
        corruptions.get(lambda x: x[0])(clean, seed=0)


@pytest.mark.parametrize(
    "corruption",
    [
        GaussianNoise(0.2, clip=False),
        RandomMask(0.3, 5, fill_value=-1.0),
        Downsample(3, "area"),
        GaussianBlur(1.5),
        GaussianBlur((0.5, 2.0)),
        JPEG(15),
        JPEG((10, 20)),
        Compose([GaussianBlur(1.0), JPEG(30)]),
    ],
    ids=repr,
)
def test_serialization_round_trip(corruption):
    config = keras.saving.serialize_keras_object(corruption)
    restored = keras.saving.deserialize_keras_object(config, safe_mode=True)
    assert type(restored) is type(corruption)
    assert restored.get_config() == corruption.get_config()
    assert corruptions.get(config).get_config() == corruption.get_config()
    clean = _images()
    np.testing.assert_array_equal(restored(clean, seed=4), corruption(clean, seed=4))


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: GaussianNoise(-0.1), "stddev must be a number"),
        (lambda: GaussianNoise(float("nan")), "stddev must be a number"),
        (lambda: GaussianNoise(0.1, clip="yes"), "clip must be a bool"),
        (lambda: RandomMask(1.5), "fraction must be a number in"),
        (lambda: RandomMask(0.2, 0), "patch_size must be a positive int"),
        (lambda: RandomMask(0.2, 2.5), "patch_size must be a positive int"),
        (lambda: RandomMask(0.2, 2, fill_value=3), "fill_value must be a number in"),
        (lambda: corruptions.get("noise"), "corruption must be None"),
        (lambda: Downsample(0), "factor must be an int >= 1"),
        (lambda: Downsample(2.0), "factor must be an int >= 1"),
        (lambda: Downsample(2, "cubic"), "method must be one of"),
        (lambda: Downsample(4)(np.zeros((1, 3, 8, 1)), seed=0), "height >= 4"),
        (lambda: GaussianBlur(-1), "sigma must be a number in"),
        (lambda: GaussianBlur((2, 1)), "low <= high"),
        (lambda: GaussianBlur((1, 2, 3)), "sigma must be a number or a pair"),
        (lambda: JPEG(0), "quality must be a number in"),
        (lambda: JPEG(101), "quality must be a number in"),
        (lambda: JPEG(50.5), "quality must be an int"),
        (lambda: JPEG((20, 10)), "low <= high"),
        (lambda: JPEG(50)(np.zeros((1, 8, 8, 2)), seed=0), "channels in"),
        (lambda: Compose([]), "non-empty list"),
        (lambda: Compose(GaussianNoise(0.1)), "non-empty list"),
        (lambda: Compose([None]), "must not hold None"),
        (lambda: GaussianNoise(0.1)(np.zeros((8, 8, 1)), seed=0), "rank 4"),
        (lambda: GaussianNoise(0.1)(np.zeros((1, 8, 8, 1)), seed=1.5), "seed must be"),
        (lambda: GaussianNoise(0.1)(np.zeros((1, 8, 8, 1)), seed=[1, 2, 3]), "seed must be"),
    ],
)
def test_bad_arguments(make, message):
    with pytest.raises(ValueError, match=message):
        make()
