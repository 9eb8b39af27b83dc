"""Strategies that cannot train a tfgen model here fail before training, naming the setting."""

import pytest
import tensorflow as tf
from gan_setup import digit_images, make_gan

from tfgen import distribute, runs


def test_a_tpu_strategy_without_a_tpu_is_refused():
    with pytest.raises(ValueError, match="strategy='tpu' found no TPU"):
        runs.make_strategy("tpu")
    # A TPUStrategy object (made elsewhere) on a machine without TPU devices: checked before
    # its devices are read (it cannot be built here, hence the bare instance).
    if not tf.config.list_logical_devices("TPU"):
        with pytest.raises(ValueError, match="TPUStrategy, but this machine has no TPU"):
            distribute.check_strategy(object.__new__(tf.distribute.TPUStrategy))


def test_a_one_device_strategy_on_a_missing_device_is_refused():
    # TensorFlow would place the variables on another device without a word.
    strategy = tf.distribute.OneDeviceStrategy("/cpu:7")
    with strategy.scope():
        gan = make_gan(filters=4)
        with pytest.raises(ValueError, match="device:CPU:7, a device this machine does not"):
            gan.compile()


def test_a_one_device_strategy_on_a_device_that_exists_trains():
    strategy = tf.distribute.OneDeviceStrategy("/cpu:1")  # conftest's second logical CPU
    with strategy.scope():
        gan = make_gan(filters=4)
        gan.compile(jit_compile=False)
    gan.fit(digit_images()[:16], batch_size=8, epochs=1, verbose=0)


@pytest.mark.parametrize(
    "count, batch_size",
    [(36, 9), (37, 8)],  # an odd global batch; a last batch of 5 (a replica with 2, one 3)
)
def test_arrays_that_do_not_split_over_the_replicas_are_refused(two_replicas, count, batch_size):
    with two_replicas.scope():
        gan = make_gan(filters=4)
        gan.compile(jit_compile=False)
    with pytest.raises(ValueError, match=f"batch_size={batch_size} does not split over the 2"):
        gan.fit(digit_images()[:count], batch_size=batch_size, epochs=1, verbose=0)
    assert int(gan.noise_step.numpy()) == 0  # Refused before any step.


def test_the_batch_check_is_arithmetic():
    distribute.check_array_batches(36, 8, 2)  # 4 batches of 8 and one of 4
    distribute.check_array_batches(37, 9, 1)  # one device takes any batch
    with pytest.raises(ValueError, match="last, partial one \\(1 of the 9 examples\\)"):
        distribute.check_array_batches(9, 4, 2)


@pytest.mark.parametrize("jit_compile", [False, pytest.param(True, marks=pytest.mark.slow)])
def test_a_last_batch_smaller_than_the_replicas_is_a_clear_error(two_replicas, jit_compile):
    """9 images in batches of 4: the last holds 1, so one of the 2 replicas gets none."""
    with two_replicas.scope():
        gan = make_gan(filters=4)
        gan.compile(jit_compile=jit_compile)
    data = tf.data.Dataset.from_tensor_slices(digit_images()[:9]).batch(4)
    with pytest.raises(ValueError, match="training batch 2 holds fewer examples than the 2 rep"):
        gan.fit(data, epochs=1, verbose=0)
    assert int(gan.noise_step.numpy()) == 2  # the two full batches trained, the third not
    # A last batch that splits unevenly but leaves each replica an example trains.
    gan.fit(tf.data.Dataset.from_tensor_slices(digit_images()[:11]).batch(4), verbose=0)
    assert int(gan.noise_step.numpy()) == 5
    with pytest.raises(ValueError, match="an evaluation batch holds fewer examples"):
        gan.evaluate(data.skip(2), verbose=0)
