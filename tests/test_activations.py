"""tfgen.activations.LeakyReLU: Keras' LeakyReLU with its gradient read from the output."""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfgen.activations import LeakyReLU

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_values_and_first_and_second_gradients_equal_keras_leaky_relu():
    rng = np.random.default_rng(0)
    images = tf.constant(rng.standard_normal((4, 6, 6, 2)), tf.float32)
    conv = keras.layers.Conv2D(3, 3, kernel_initializer="glorot_normal")
    conv.build(images.shape)
    results = []
    for layer in (keras.layers.LeakyReLU(0.2), LeakyReLU(0.2)):
        # R1-style: the squared input gradient's gradient with respect to the kernel.
        with tf.GradientTape() as outer:
            with tf.GradientTape() as inner:
                inner.watch(images)
                outputs = layer(conv(images))
                score = tf.reduce_sum(outputs * tf.sin(outputs))
            input_gradient = inner.gradient(score, images)
            penalty = tf.reduce_sum(tf.square(input_gradient))
        results.append((outputs, input_gradient, outer.gradient(penalty, conv.kernel)))
    for keras_value, ours in zip(*results):
        np.testing.assert_allclose(ours.numpy(), keras_value.numpy(), rtol=1e-5, atol=1e-6)
    assert LeakyReLU.from_config(LeakyReLU(0.1).get_config()).negative_slope == 0.1
    with pytest.raises(ValueError, match="negative_slope must be > 0"):
        LeakyReLU(0.0)


STEP = """
import numpy as np
from tfgen import architectures
from tfgen.models import GAN
shape = (16, 16, 1)
gan = GAN(architectures.dcgan_generator(shape), architectures.dcgan_discriminator(shape))
gan.compile(jit_compile=False)
gan.fit(np.zeros((64, 16, 16, 1), np.float32), batch_size=32, epochs=1, verbose=0)
"""


def test_a_training_step_of_the_builders_networks_logs_no_remapper_failure():
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env["PYTHONPATH"] = os.pathsep.join([REPO, *filter(None, [env.get("PYTHONPATH")])])
    done = subprocess.run(
        [sys.executable, "-c", STEP], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "remapper failed" not in done.stderr, done.stderr[-3000:]
