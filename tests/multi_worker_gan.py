"""One worker of a two-process MultiWorkerMirroredStrategy GAN run (test_multi_worker.py).

Run with TF_CONFIG set; writes the trained weights to the .npz path given as argument, and
takes the GAN's `jit_compile` ("auto", "true" or "false"; default Keras' compile default)
and the number of batches after it. With a fourth argument, a path, a denoising `Autoencoder`
then trains with XLA (`jit_compile=True`: each replica's parts compiled) and its weights and
losses are written there.
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
from gan_setup import BATCH, digit_batches, make_denoiser, make_gan  # noqa: E402

JIT = {"auto": "auto", "true": True, "false": False}


def main(output_path, jit_compile="auto", batches="4", denoiser_path=None):
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    with strategy.scope():
        gan = make_gan()
        gan.compile(gradient_penalty=("r1", 1.0), jit_compile=JIT[jit_compile])
    history = gan.fit(digit_batches(count=int(batches) * BATCH), epochs=1, verbose=0)
    decision = None if gan.jit_decision is None else dict(gan.jit_decision)
    np.savez(
        output_path,
        *[w.numpy() for w in gan.weights],
        d_loss=np.asarray(history.history["d_loss"]),
        jit_compile=np.asarray(bool(gan.jit_compile)),
        decision=np.asarray(json.dumps(decision)),
    )
    if denoiser_path:
        with strategy.scope():
            denoiser = make_denoiser()
            denoiser.compile(jit_compile=True)
        history = denoiser.fit(digit_batches(count=int(batches) * BATCH), epochs=1, verbose=0)
        np.savez(
            denoiser_path,
            *[w.numpy() for w in denoiser.weights],
            loss=np.asarray(history.history["loss"]),
        )


if __name__ == "__main__":
    main(*sys.argv[1:])
