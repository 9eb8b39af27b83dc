"""What grappler's remapper is worth on the CPU for the graphs of the example runs.

On CPUs where TensorFlow uses oneDNN (its default on x86 with AVX-512 VNNI or newer) the
remapper fuses Conv2D + BiasAdd + LeakyRelu although the gradient's LeakyReluGrad still reads
that BiasAdd, gives up on that graph and logs "remapper failed: INVALID_ARGUMENT:
Mutation::Apply error: fanout '.../LeakyReluGrad' exist for missing node '.../BiasAdd'". This
measures whether turning the remapper off (`tf.config.optimizer.set_experimental_options(
{"remapping": False})`, which removes that line) would cost anything. It times, with the
remapper on and off, in interleaved repeats of a fixed number of steps (best repeat), on the
default run's settings (16 x 16 digits, batch 32, base_filters 32):

- `gan step`: the example's DCGAN (`tfgen.runs.gan.build_gan`, XLA off) through `model.fit`;
  its discriminator's `tfgen.activations.LeakyReLU` reads its output in the gradient, so the
  remapper fuses it without failing (issue 26);
- `keras lrelu`: the same with `keras.layers.LeakyReLU` in the discriminator (before issue
  26), whose gradient makes the remapper give up on the graph and log the line above;
- `relu step`: training the digits classifier (ReLU convolutions, which the remapper can fuse);
- `features`: the digits extractor on 1,000 images (the FID evaluation during a run).

A fresh model per repeat, so each runs with the options set before its first call.

    python benchmarks/cpu_remapper.py [--steps 100] [--repeats 3]
"""

import dataclasses
import time

import _common
import keras
import numpy as np
import tensorflow as tf
from absl import flags

import tfgen.data
import tfgen.metrics
from tfgen.architectures import _blocks
from tfgen.runs import gan as gan_run

FLAGS = flags.FLAGS
flags.DEFINE_integer("steps", 100, "Timed training steps per repeat.")
flags.DEFINE_integer("repeats", 3, "Interleaved repeats; the best is reported.")


def gan_step(dataset):
    config = dataclasses.replace(gan_run.GANSettings(), jit_compile="false")
    gan = gan_run.build_gan(config, (16, 16, 1))
    gan.fit(dataset.take(2), epochs=1, verbose=0)  # Traces and instantiates the step.
    start = time.perf_counter()
    gan.fit(dataset.take(FLAGS.steps), epochs=1, verbose=0)
    return time.perf_counter() - start


def keras_leaky_relu_gan_step(dataset):
    builders_activation = _blocks.LeakyReLU
    _blocks.LeakyReLU = keras.layers.LeakyReLU  # The discriminator as it was built before.
    try:
        return gan_step(dataset)
    finally:
        _blocks.LeakyReLU = builders_activation


def relu_step(dataset):
    network = tfgen.metrics.features.digits_classifier_network(seed=0)
    network.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    labelled = dataset.map(lambda x: (x, tf.zeros([tf.shape(x)[0]], tf.int32)))
    network.fit(labelled.take(2), epochs=1, verbose=0)
    start = time.perf_counter()
    network.fit(labelled.take(FLAGS.steps), epochs=1, verbose=0)
    return time.perf_counter() - start


def features(images):
    extractor = tfgen.metrics.digits_features()
    extractor(images[:10])
    start = time.perf_counter()
    for _ in range(10):
        extractor(images)
    return (time.perf_counter() - start) / 10


def main(argv):
    del argv
    dataset = tfgen.data.load("digits", image_size=16, batch_size=32, repeat=True, seed=0)
    images = np.concatenate([b for b in dataset.take(32).as_numpy_iterator()])[:1000]
    work = {
        "gan step": gan_step,
        "keras lrelu": keras_leaky_relu_gan_step,
        "relu step": relu_step,
        "features": features,
    }
    best = {(name, on): np.inf for name in work for on in (True, False)}
    for _ in range(FLAGS.repeats):
        for on in (True, False):
            tf.config.optimizer.set_experimental_options({"remapping": on})
            for name, run in work.items():
                seconds = run(images if name == "features" else dataset)
                best[name, on] = min(best[name, on], seconds)
    print(f"{'work':10s} {'remapper on':>12s} {'off':>10s} {'off / on':>9s}")
    for name in work:
        per = 1000 / (1 if name == "features" else FLAGS.steps)
        on, off = best[name, True] * per, best[name, False] * per
        unit = "ms/1000 im" if name == "features" else "ms/step"
        print(f"{name:11s} {on:9.2f} ms {off:7.2f} ms {off / on:8.2f}x  ({unit})")
    ours, theirs = best["gan step", True], best["keras lrelu", True]
    print(f"gan step, remapper on: Keras' LeakyReLU / tfgen's = {theirs / ours:.2f}x")


if __name__ == "__main__":
    _common.run(main)
