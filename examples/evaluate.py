"""Scores a trained generator against a dataset: FID, KID, precision and recall.

    python examples/evaluate.py --model=runs/gan/gan.keras                  # bundled digits
    python examples/evaluate.py --model=runs/gan/saved_model --trust_saved_model
    python examples/evaluate.py --model=runs/mnist/gan.keras --dataset=mnist \
        --features=inception_pool3:/data/inception-2015-12-05.tgz

`--model` is a `.keras` GAN (or generator) or, with --trust_saved_model, a SavedModel exported by
tfgen (a program: see the README's "What is safe to load"); the real images are
`--dataset` (as in training) at the generator's size. `--features` chooses the feature network:
`digits` (shipped with tfgen), `inception_pool3:PATH` (the reference FID network; scores
comparable with published ones) or `inception_v3:PATH` (Keras' ImageNet weights; not comparable).
Each score is printed beside its floor, real images against real images at the same sample count
(`--nofloor` skips it); the number of samples used is printed (at most half the real images).
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("model", None, "A .keras GAN or generator, or an exported SavedModel.")
flags.DEFINE_string("dataset", "digits", "Real images: a tfgen.data.load name, as in training.")
flags.DEFINE_string("split", "train", "Split of the dataset to compare with.")
flags.DEFINE_string("data_dir", None, "tensorflow-datasets data directory.")
flags.DEFINE_string("features", "digits", "digits, inception_pool3:PATH or inception_v3:PATH.")
flags.DEFINE_integer("num_samples", 10_000, "Generated images (and the most real ones) scored.")
flags.DEFINE_integer("batch_size", 250, "Images per batch.")
flags.DEFINE_integer("seed", 0, "Seed of the latent codes.")
flags.DEFINE_bool(
    "trust_saved_model",
    False,
    "Load a SavedModel --model: it is a program that runs whatever ops it holds, so only one "
    "from a source you trust (a .keras file needs no trust: it loads with safe_mode).",
)
flags.DEFINE_bool("floor", True, "Also score real against real images: each score's floor.")
flags.mark_flag_as_required("model")


def main(argv):
    del argv
    import tfgen.metrics

    extractor = tfgen.metrics.feature_extractor(FLAGS.features)
    scores = tfgen.metrics.evaluate_generator(
        FLAGS.model,
        FLAGS.dataset,
        tfgen.metrics.default_metrics(extractor),
        num_samples=FLAGS.num_samples,
        batch_size=FLAGS.batch_size,
        seed=FLAGS.seed,
        split=FLAGS.split,
        data_dir=FLAGS.data_dir,
        trust_saved_model=FLAGS.trust_saved_model,
        floor=FLAGS.floor,
    )
    print(f"{FLAGS.model} against {FLAGS.dataset} ({FLAGS.split}), {extractor.name} features:")
    if "num_samples" in scores:
        count = int(scores.pop("num_samples"))
        print(f"  {count} generated images against {count} real ones; floor: {count} other real")
    for key, value in scores.items():
        if key.endswith("_floor"):
            continue
        floor = scores.get(f"{key}_floor")
        beside = "" if floor is None else f"   floor (real vs real) {floor:.4f}"
        print(f"  {key:10s} {value:.4f}{beside}")


if __name__ == "__main__":
    from tfgen import runs

    app.run(runs.reporting_errors(main))
