"""DiffAugment (tfgen.augment) against a numpy transcription of the paper's reference code."""

import numpy as np
import pytest
import tensorflow as tf

from tfgen import augment

BATCH, SIDE = 6, 8
SEED = tf.constant([3, 7], tf.int64)


def images(channels=3, batch=BATCH, side=SIDE, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(-1, 1, (batch, side, side, channels)).astype(np.float32)


def reference_draws(batch, count, seed=SEED):
    """The uniform draws one device takes: one row of `count` per example."""
    return tf.random.stateless_uniform([batch, count], seed=seed, alg="philox").numpy()


# numpy transcriptions of DiffAugment's PyTorch code (github.com/mit-han-lab/data-efficient-gans,
# DiffAugment_pytorch.py), channels last, with its torch.rand/randint draws given as `u`.


def reference_color(x, u, strength=1.0):
    x = x + (u[:, 0] - 0.5)[:, None, None, None] * strength
    mean = x.mean(axis=3, keepdims=True)
    x = (x - mean) * (1 + (u[:, 1] * 2 - 1) * strength)[:, None, None, None] + mean
    mean = x.mean(axis=(1, 2, 3), keepdims=True)
    return (x - mean) * (1 + (u[:, 2] - 0.5) * strength)[:, None, None, None] + mean


def reference_translation(x, u, ratio=0.125):
    batch, height, width, _ = x.shape
    shift_y, shift_x = int(height * ratio + 0.5), int(width * ratio + 0.5)
    ty = np.floor(u[:, 0] * (2 * shift_y + 1)).astype(int) - shift_y
    tx = np.floor(u[:, 1] * (2 * shift_x + 1)).astype(int) - shift_x
    padded = np.pad(x, [(0, 0), (1, 1), (1, 1), (0, 0)])
    out = np.empty_like(x)
    for b in range(batch):
        for i in range(height):
            for j in range(width):
                row = np.clip(i + ty[b] + 1, 0, height + 1)
                col = np.clip(j + tx[b] + 1, 0, width + 1)
                out[b, i, j] = padded[b, row, col]
    return out


def reference_cutout(x, u, ratio=0.5):
    batch, height, width, _ = x.shape
    size_y, size_x = int(height * ratio + 0.5), int(width * ratio + 0.5)
    offset_y = np.floor(u[:, 0] * (height + (1 - size_y % 2))).astype(int)
    offset_x = np.floor(u[:, 1] * (width + (1 - size_x % 2))).astype(int)
    mask = np.ones((batch, height, width), np.float32)
    for b in range(batch):
        for i in range(size_y):
            for j in range(size_x):
                row = np.clip(i + offset_y[b] - size_y // 2, 0, height - 1)
                col = np.clip(j + offset_x[b] - size_x // 2, 0, width - 1)
                mask[b, row, col] = 0
    return x * mask[..., None]


REFERENCES = {
    "color": (3, reference_color),
    "translation": (2, reference_translation),
    "cutout": (2, reference_cutout),
}


@pytest.mark.parametrize("name", sorted(REFERENCES))
@pytest.mark.parametrize("channels", [1, 3])
def test_each_operation_matches_the_papers_code(name, channels):
    x = images(channels)
    count, reference = REFERENCES[name]
    expected = reference(x, reference_draws(BATCH, count))
    got = getattr(augment, name)(x, SEED).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)


def test_policy_applies_operations_in_order_from_one_draw():
    x = images(3)
    u = reference_draws(BATCH, 7)
    expected = reference_cutout(
        reference_translation(reference_color(x, u[:, :3]), u[:, 3:5]), u[:, 5:]
    )
    got = augment.diff_augment(x, "color,translation,cutout", SEED).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)


def test_translation_shifts_by_whole_pixels_at_larger_sides():
    x = images(1, side=32)
    expected = reference_translation(x, reference_draws(BATCH, 2), ratio=0.25)
    np.testing.assert_allclose(augment.translation(x, SEED, strength=2.0), expected)


@pytest.mark.parametrize("policy", ["color", "translation", "cutout", "color,translation,cutout"])
def test_shape_and_dtype_preserved_and_identity_at_zero_strength(policy):
    x = images(3)
    out = augment.diff_augment(x, policy, SEED)
    assert out.shape == x.shape and out.dtype == tf.float32
    # Exact up to float32 rounding of color's subtracted and re-added means.
    np.testing.assert_allclose(augment.diff_augment(x, policy, SEED, strength=0.0), x, atol=1e-6)


@pytest.mark.parametrize("name", ["translation", "cutout"])
def test_translation_and_cutout_keep_values_in_the_image_range(name):
    x = images(3, batch=64)
    out = getattr(augment, name)(x, SEED).numpy()
    assert out.min() >= -1 and out.max() <= 1
    # Every output value is an input value of the same example and channel, or the fill 0.
    for b in range(0, 64, 7):
        allowed = set(x[b].ravel()) | {0.0}
        assert set(out[b].ravel()) <= allowed


def test_color_at_full_strength_changes_every_image():
    x = images(3, batch=64)
    out = augment.color(x, SEED).numpy()
    assert np.all(np.abs(out - x).max(axis=(1, 2, 3)) > 0)


@pytest.mark.parametrize("policy", ["color", "translation", "cutout"])
def test_gradient_matches_finite_differences(policy):
    rng = np.random.default_rng(1)
    x = tf.constant(images(3, batch=2).astype(np.float64))
    weights = tf.constant(rng.normal(size=x.shape))

    def objective(images):
        return tf.reduce_sum(weights * augment.diff_augment(images, policy, SEED))

    with tf.GradientTape() as tape:
        tape.watch(x)
        value = objective(x)
    gradient = tape.gradient(value, x).numpy()
    assert np.abs(gradient).sum() > 0  # the images reach the output
    # Central differences along random directions (exact up to rounding: the ops are linear in
    # the pixels once the draws are fixed) against the directional derivative.
    step = 1e-3
    for _ in range(4):
        direction = rng.normal(size=x.shape)
        numerical = (objective(x + step * direction) - objective(x - step * direction)) / (2 * step)
        np.testing.assert_allclose(numerical, np.sum(gradient * direction), rtol=1e-7)


def test_two_replicas_transform_each_example_as_one_device(two_replicas):
    x = images(3, batch=8)
    policy = "color,translation,cutout"
    one = augment.diff_augment(x, policy, SEED).numpy()
    dataset = tf.data.Dataset.from_tensor_slices(x).batch(8)
    batch = next(iter(two_replicas.experimental_distribute_dataset(dataset)))
    per_replica = two_replicas.run(lambda b: augment.diff_augment(b, policy, SEED), args=(batch,))
    two = np.concatenate([t.numpy() for t in two_replicas.experimental_local_results(per_replica)])
    np.testing.assert_allclose(two, one, rtol=1e-6, atol=1e-6)


def test_a_new_seed_draws_new_transformations():
    x = images(3)
    first = augment.diff_augment(x, "color,translation,cutout", SEED)
    second = augment.diff_augment(x, "color,translation,cutout", SEED + 1)
    assert not np.allclose(first, second)
    np.testing.assert_array_equal(first, augment.diff_augment(x, "color,translation,cutout", SEED))


@pytest.mark.parametrize(
    "policy, message",
    [
        ("color,zoom", "'zoom'"),
        ("color,color", "twice"),
        (3, "comma-separated"),
    ],
)
def test_bad_policies_are_refused(policy, message):
    with pytest.raises(ValueError, match=message):
        augment.parse_policy(policy)


def test_parse_policy_accepts_strings_lists_and_none():
    assert augment.parse_policy("color, translation,cutout") == ("color", "translation", "cutout")
    assert augment.parse_policy(["cutout"]) == ("cutout",)
    assert augment.parse_policy(None) == augment.parse_policy("") == ()


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="strength"):
        augment.color(images(), SEED, strength=-1.0)
    with pytest.raises(ValueError, match="seed"):
        augment.color(images(), tf.constant([1.0, 2.0]))
    with pytest.raises(ValueError, match="shape"):
        augment.color(np.zeros((8, 8, 3), np.float32), SEED)
    with pytest.raises(ValueError, match="dtype"):
        augment.color(np.zeros((2, 8, 8, 3), np.int32), SEED)
