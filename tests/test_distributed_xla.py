"""XLA under a strategy: the GAN's and the Autoencoder's steps compiled per replica on two
replicas (logical CPUs).

Tolerances: two replicas sum each gradient as two half-batch sums plus an all-reduce, one device
as one sum, and XLA fuses the whole one-device step but only parts of the replicated one; both
reorder float32 additions, a few units in the last place per step, so after 8 steps weights
agree to ~1e-7 (measured) and are checked at atol 1e-6. XLA draws other stateless random numbers
than TensorFlow's kernels (`tfgen.distribute.RNG`), so a step whose draws ran under XLA ends
~4e-3 away from one whose draws did not: that gap shows which kernels ran.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfgen import architectures, corruptions, distribute
from tfgen.models import GAN, Autoencoder, _jit

STEPS = 8
BATCH = 8


def images(steps=STEPS):
    return np.random.default_rng(0).uniform(-1, 1, (steps * BATCH, 8, 8, 1)).astype("float32")


def plain_generator():
    """A generator without batch norm: nothing in it talks across replicas."""
    return keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(4 * 4 * 8),
            keras.layers.Reshape((4, 4, 8)),
            keras.layers.Conv2DTranspose(1, 4, strides=2, padding="same", activation="tanh"),
        ]
    )


def trained(strategy, jit_compile, generator=plain_generator, steps=STEPS):
    keras.utils.set_random_seed(0)
    with strategy.scope():
        gan = GAN(generator(), architectures.dcgan_discriminator((8, 8, 1), base_filters=4), seed=0)
        gan.compile(jit_compile=jit_compile)
    history = gan.fit(images(steps), batch_size=BATCH, epochs=1, verbose=0)
    return gan, history


def largest_difference(first, second):
    return max(
        float(np.max(np.abs(np.asarray(a) - np.asarray(b))))
        for a, b in zip(first.weights, second.weights)
    )


def test_two_replicas_with_xla_give_one_devices_weights(two_replicas):
    one_device, one_history = trained(tf.distribute.get_strategy(), jit_compile=True)
    replicated, history = trained(two_replicas, jit_compile=True)
    assert replicated.jit_compile is True  # kept: the parts compile, not Keras' whole step
    for got, want in zip(replicated.weights, one_device.weights):
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), atol=1e-6)
    np.testing.assert_allclose(history.history["d_loss"], one_history.history["d_loss"], rtol=1e-5)
    # The replicas' codes were drawn under XLA: a run without it follows other draws.
    without, _ = trained(two_replicas, jit_compile=False)
    assert largest_difference(without, replicated) > 1e-3


@pytest.mark.slow
def test_a_synchronised_batch_norm_keeps_its_network_out_of_xla(two_replicas):
    def generator():
        return architectures.dcgan_generator((8, 8, 1), latent_dim=4, base_filters=4)

    with two_replicas.scope():
        assert distribute.synchronizes(generator())  # the builders' batch norm, synchronised
    assert not distribute.synchronizes(plain_generator())
    with_xla, history = trained(two_replicas, jit_compile=True, generator=generator)
    without, without_history = trained(two_replicas, jit_compile=False, generator=generator)
    # Only the discriminator's parts compiled; the codes were drawn by TensorFlow's kernels
    # in the generator's part, so both runs follow the same draws, up to rounding.
    for got, want in zip(with_xla.weights, without.weights):
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), atol=1e-6)
    np.testing.assert_allclose(
        history.history["d_loss"], without_history.history["d_loss"], rtol=1e-5
    )


def test_auto_measures_under_a_strategy(two_replicas):
    steps = _jit.STEPS_TO_DECIDE + 2
    gan, _ = trained(two_replicas, jit_compile="auto", steps=steps)
    decision = gan.jit_decision
    assert set(decision) == {"jit_compile", "ms_per_step_without", "ms_per_step_with", "xla_error"}
    assert decision["xla_error"] is None
    assert decision["ms_per_step_without"] > 0 and decision["ms_per_step_with"] > 0
    faster = decision["ms_per_step_with"] < decision["ms_per_step_without"]
    assert decision["jit_compile"] is faster and gan.jit_compile is faster
    assert int(gan.noise_step.numpy()) == steps


class AntialiasedResize(keras.layers.Layer):
    """TensorFlow's antialiased resize: its ScaleAndTranslate op has no XLA kernel."""

    def call(self, images):
        height, width = images.shape[1:3]
        half = tf.image.resize(images, [height // 2, width // 2], antialias=True)
        return tf.image.resize(half, [height, width], antialias=True)


@pytest.mark.slow
def test_auto_under_a_strategy_undoes_a_failed_compilation(two_replicas):
    """The generator's part compiles and runs, then the discriminator's fails: the weights the
    first part moved and the metrics it counted are restored before the batch trains again."""

    def uncompilable(jit_compile):
        keras.utils.set_random_seed(0)
        with two_replicas.scope():
            discriminator = keras.Sequential(
                [
                    keras.Input((8, 8, 1)),
                    AntialiasedResize(),
                    architectures.dcgan_discriminator((8, 8, 1), base_filters=4),
                ]
            )
            gan = GAN(plain_generator(), discriminator, seed=0)
            gan.compile(jit_compile=jit_compile)
        steps = _jit.STEPS_TO_DECIDE
        return gan, gan.fit(images(steps), batch_size=BATCH, epochs=1, verbose=0)

    gan, history = uncompilable("auto")
    assert gan.jit_decision["jit_compile"] is False and gan.jit_compile is False
    assert "ScaleAndTranslate" in gan.jit_decision["xla_error"]
    reference, reference_history = uncompilable(False)
    for got, want in zip(gan.weights, reference.weights):
        np.testing.assert_array_equal(np.asarray(got), np.asarray(want))
    for name, values in reference_history.history.items():  # rounded alike, not bit for bit
        np.testing.assert_allclose(history.history[name], values, rtol=1e-6)


def test_seconds_agree_across_replicas(two_replicas):
    assert _jit.agreed_seconds(two_replicas, [0.25, 0.5]) == [0.25, 0.5]
    assert _jit.agreed_seconds(tf.distribute.get_strategy(), [0.25]) == [0.25]


@pytest.mark.parametrize("local", [4, 3])
def test_a_known_batch_position_answers_without_collectives(two_replicas, local):
    def replica():
        with distribute.known_batch_position(local) as total:
            return total, distribute.replica_offset(local), distribute.global_batch_size(local)

    results = tf.function(lambda: two_replicas.run(replica))()
    totals, offsets, again = (two_replicas.experimental_local_results(r) for r in results)
    assert [int(t) for t in totals] == [2 * local] * 2 == [int(t) for t in again]
    assert [int(o) for o in offsets] == [0, local]


def trained_autoencoder(strategy, jit_compile, steps=STEPS):
    """A tiny denoising U-Net (no batch norm) trained on noisy copies of `images`."""
    keras.utils.set_random_seed(0)
    with strategy.scope():
        network = architectures.unet((8, 8, 1), base_filters=4, depth=1)
        model = Autoencoder(None, network, corruption=corruptions.GaussianNoise(0.2), seed=0)
        model.compile(jit_compile=jit_compile)
    history = model.fit(images(steps), batch_size=BATCH, epochs=1, verbose=0)
    return model, history


def test_an_autoencoder_on_two_replicas_with_xla_gives_one_devices_weights(two_replicas):
    one_device, one_history = trained_autoencoder(tf.distribute.get_strategy(), jit_compile=True)
    replicated, history = trained_autoencoder(two_replicas, jit_compile=True)
    assert replicated.jit_compile is True  # kept: the parts compile, not Keras' whole step
    for got, want in zip(replicated.weights, one_device.weights):
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), atol=1e-6)
    np.testing.assert_allclose(history.history["loss"], one_history.history["loss"], rtol=1e-5)
    # The replicas' noise was drawn under XLA: a run without it follows other draws.
    without, _ = trained_autoencoder(two_replicas, jit_compile=False)
    assert largest_difference(without, replicated) > 1e-3
