"""How close the README's default run comes to real digits, in the shipped digits features.

Scores a trained GAN (default: the model `python examples/train_gan.py` leaves in runs/gan)
against the 297 held-out digits, beside the same scores of real training digits, with equal
sample counts on both sides (1,000 generated or 1,000 real training digits against the 297
held-out ones): FID, KID and precision/recall in `tfgen.metrics.digits_features`. The ratio of
the two FIDs is the README's goal (within 3x of real digits).

    python examples/train_gan.py && PYTHONPATH=. python benchmarks/default_run_quality.py
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402
from digits_scores import digits, scores  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("model", "runs/gan/gan.keras", "The trained GAN (.keras).")
flags.DEFINE_integer("samples", 1000, "Generated images, and real training digits, scored.")
flags.DEFINE_integer("image_size", 16, "Side of the digits the GAN makes.")


def main(argv):
    del argv
    held_out, training = (digits(split, FLAGS.image_size) for split in ("test", "train"))
    gan = keras.saving.load_model(FLAGS.model)
    generated = np.asarray(gan.generate(FLAGS.samples, seed=0)) * 2 - 1  # [0, 1] -> [-1, 1]
    rng = np.random.default_rng(0)
    real = training[rng.choice(len(training), FLAGS.samples, replace=False)]
    rows = {
        f"{FLAGS.samples} real training digits": scores(held_out, real),
        f"{FLAGS.samples} generated digits": scores(held_out, generated),
    }
    print(f"against the {len(held_out)} held-out digits:")
    print("| images | FID | KID | precision | recall |\n|---|---|---|---|---|")
    for name, row in rows.items():
        print(
            f"| {name} | {row['fid']:.1f} | {row['kid']:.0f} | {row['precision']:.2f} | "
            f"{row['recall']:.2f} |"
        )
    real_fid, generated_fid = (row["fid"] for row in rows.values())
    print(f"generated / real FID: {generated_fid / real_fid:.2f}x")


if __name__ == "__main__":
    app.run(main)
