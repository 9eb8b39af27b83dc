"""One worker of a two-process MultiWorkerMirroredStrategy GAN run (test_multi_worker.py).

Run with TF_CONFIG set; writes the trained weights to the .npz path given as argument.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
from gan_setup import digit_batches, make_gan  # noqa: E402


def main(output_path):
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    with strategy.scope():
        gan = make_gan()
        gan.compile(gradient_penalty=("r1", 1.0))
    history = gan.fit(digit_batches(), epochs=1, verbose=0)
    np.savez(
        output_path,
        *[w.numpy() for w in gan.weights],
        d_loss=np.asarray(history.history["d_loss"]),
    )


if __name__ == "__main__":
    main(sys.argv[1])
