"""`tfgen.data.permute_channels`: every image keeps its pixels, in one of the 6 channel orders."""

import itertools

import numpy as np
import pytest
import tensorflow as tf

import tfgen.data


def _orders_of(inputs, outputs):
    """The channel order p with outputs[i] == inputs[i][..., p], for each image i."""
    found = []
    for x, y in zip(inputs, outputs, strict=True):
        matches = [p for p in itertools.permutations(range(3)) if np.array_equal(x[..., p], y)]
        assert len(matches) == 1, "an output is no channel permutation of its input"
        found.append(matches[0])
    return found


def test_each_image_gets_one_of_the_six_orders_uniformly():
    # Distinct channels (red != green != blue everywhere), so each order is identifiable.
    rng = np.random.default_rng(0)
    images = rng.uniform(-1, 1, size=(600, 4, 4, 3)).astype(np.float32)
    seed = tf.constant([3, 0], tf.int64)
    out = tfgen.data.permute_channels(images, seed).numpy()
    orders = _orders_of(images, out)
    counts = [orders.count(p) for p in itertools.permutations(range(3))]
    assert min(counts) > 60 and max(counts) < 140  # 100 expected each
    np.testing.assert_array_equal(tfgen.data.permute_channels(images, seed).numpy(), out)
    other = tfgen.data.permute_channels(images, tf.constant([4, 0], tf.int64)).numpy()
    assert _orders_of(images, other) != orders


def test_with_a_probability_the_other_images_keep_their_order():
    images = np.random.default_rng(3).uniform(-1, 1, size=(1200, 2, 2, 3)).astype(np.float32)
    seed = tf.constant([7, 1], tf.int64)
    kept = np.mean(
        [
            p == (0, 1, 2)
            for p in _orders_of(images, tfgen.data.permute_channels(images, seed, 0.5).numpy())
        ]
    )
    assert abs(kept - (0.5 + 0.5 / 6)) < 0.05  # kept, or drawn the identity among the 6
    unchanged = tfgen.data.permute_channels(images, seed, probability=0.0).numpy()
    np.testing.assert_array_equal(unchanged, images)


def test_grey_images_pass_unchanged():
    grey = np.random.default_rng(1).uniform(size=(5, 3, 3, 1)).astype(np.float32)
    out = tfgen.data.permute_channels(grey, tf.constant([0, 0], tf.int64)).numpy()
    np.testing.assert_array_equal(out, grey)


def test_a_dataset_gets_new_orders_at_every_pass_and_keeps_labels():
    images = np.random.default_rng(2).uniform(size=(64, 2, 2, 3)).astype(np.float32)
    labels = np.arange(64)
    dataset = tf.data.Dataset.from_tensor_slices((images, labels)).batch(16)
    permuted = tfgen.data.with_permuted_channels(dataset, seed=5)
    first, second = ([b for b in permuted.as_numpy_iterator()] for _ in range(2))
    for passes in (first, second):
        np.testing.assert_array_equal(np.concatenate([b[1] for b in passes]), labels)
        _orders_of(images, np.concatenate([b[0] for b in passes]))
    assert not np.array_equal(first[0][0], second[0][0])
    plain = tf.data.Dataset.from_tensor_slices(images).batch(16)
    again = next(iter(tfgen.data.with_permuted_channels(plain, seed=5))).numpy()
    np.testing.assert_array_equal(again, first[0][0])  # reproducible from the seed


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: tfgen.data.permute_channels(np.zeros((2, 4, 4, 2)), [0, 0]), "channels in"),
        (lambda: tfgen.data.permute_channels(np.zeros((4, 4, 3)), [0, 0]), "batch, height"),
        (
            lambda: tfgen.data.with_permuted_channels(tf.data.Dataset.range(2), seed=1.5),
            "seed must be an int",
        ),
        (
            lambda: tfgen.data.permute_channels(np.zeros((1, 2, 2, 3)), [0, 0], 1.5),
            r"probability must be a number in \[0, 1\]",
        ),
    ],
)
def test_bad_arguments(call, message):
    with pytest.raises(ValueError, match=message):
        call()
