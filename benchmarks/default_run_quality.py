"""How close trained GANs come to real digits, by the independent judge and by tfgen's metrics.

Every row is a set of `--samples` images, scored twice, each beside its floor (real digits
against real digits at the same sample count):
- the judge (`digits_judge.py`, not tfgen code): the Fréchet distance in a scikit-learn
  classifier's features to the judge's training digits; its floor is its held-out real digits;
- tfgen's digits metrics (`tfgen.metrics.default_metrics`: FID, KID, precision/recall in the
  shipped classifier's features) against the 297 held-out digits of `tfgen.data`'s test split;
  their floor is as many real training digits.
Rows: real digits, each `--models` GAN (default: the model `python examples/train_gan.py`
leaves in runs/gan), real digits blurred (Gaussian, sigma 1 pixel of 8x8) and uniform noise.

    python examples/train_gan.py && PYTHONPATH=. python benchmarks/default_run_quality.py
    PYTHONPATH=. python benchmarks/default_run_quality.py \
        --models "README run=runs/gan/gan.keras,5 epochs=runs/gan5/gan.keras"
"""

import _common
import keras
import numpy as np
import scipy.ndimage
from _common import digits, scores
from absl import flags
from digits_judge import MAX_ITER, DigitsJudge

FLAGS = flags.FLAGS
flags.DEFINE_integer("judge_max_iter", MAX_ITER, "Training iterations of the judge's classifier.")
flags.DEFINE_list("models", ["README run=runs/gan/gan.keras"], "name=path of trained GANs.")
flags.DEFINE_integer("samples", 500, "Images per row (the judge holds out 500 real digits).")
flags.DEFINE_integer("image_size", 16, "Side of the digits the GANs make.")


def blurred(images01, side):
    """Real digits in [0, 1] blurred by a Gaussian of one 8x8 pixel (side / 8 of these)."""
    return scipy.ndimage.gaussian_filter(images01, (0, side / 8, side / 8, 0))


def main(argv):
    del argv
    n, side = FLAGS.samples, FLAGS.image_size
    judge = DigitsJudge(max_iter=FLAGS.judge_max_iter)
    held_out, training = (digits(split, side) for split in ("test", "train"))
    real01 = (training[:n] + 1) / 2  # The train split is in random order: a random sample.
    rows = {"real training digits": real01}
    for entry in FLAGS.models:
        name, _, path = entry.rpartition("=")
        gan = keras.saving.load_model(path)
        rows[name or path] = np.asarray(gan.generate(n, seed=0))
    rows["real digits blurred"] = blurred(real01, side)
    rows["uniform noise"] = np.random.default_rng(0).uniform(size=real01.shape)
    judge_floor = judge.floor(n, side)
    print(f"{n} images each at {side}x{side}; judge accuracy {judge.accuracy:.3f}")
    print(f"judge floor (its {n} held-out real digits): {judge_floor:.3f}")
    floor_fid, table = None, []
    for name, images in rows.items():
        images = np.clip(images, 0.0, 1.0).astype(np.float32)
        distance = judge.distance(images)
        row = scores(held_out, images * 2 - 1)
        floor_fid = floor_fid or row["fid"]
        table.append(
            [
                name,
                f"{distance:.2f}",
                f"{distance / judge_floor:.1f}x",
                f"{row['fid']:.1f} ({row['fid'] / floor_fid:.1f}x)",
                f"{row['kid']:.0f}",
                f"{row['kid_std']:.0f}",
                f"{row['precision']:.2f}",
                f"{row['recall']:.2f}",
            ]
        )
    header = ["images", "judge", "judge / floor", "FID", "KID", "KID std", "precision", "recall"]
    _common.print_table(header, table)
    print("(tfgen's metrics against the 297 held-out digits; the first row is their floor)")


if __name__ == "__main__":
    _common.run(main)
