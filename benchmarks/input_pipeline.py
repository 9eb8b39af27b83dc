"""Images per second delivered by `tfgen.data.load`, against a naive pipeline doing the same work.

Sources measured in one run:
  - the bundled digits, upscaled to 32x32 (what a GAN on digits consumes);
  - a folder of generated PNG files (64x64 crops of the bundled photographs), read cold (first
    pass: every file decoded) and warm (later passes, served from the in-memory cache).

The naive pipeline does the same work (decode, resize, convert, shuffle, batch, normalise) with a
sequential map, no prefetch, no cache, and tf.data's automatic map parallelisation and prefetch
injection turned off. (The bundled photos are cut from photographs held in memory
(`tfgen.data.photos`), with no decoding pipeline to compare; the folder rows measure decoding.)
Each figure is the best of --repeats runs (the machine may be shared).
Give --train_steps_per_sec to print the rate a training step consumes.

    PYTHONPATH=. python benchmarks/input_pipeline.py --batch_size=64 --train_steps_per_sec=50
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time

import _common
import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds
from absl import flags

import tfgen.data as tdata
from tfgen.data import builders, sources

FLAGS = flags.FLAGS
flags.DEFINE_integer("batch_size", 64, "Batch size of both pipelines.")
flags.DEFINE_integer("batches", 300, "Batches timed per warm run.")
flags.DEFINE_integer("num_files", 3000, "PNG files in the folder.")
flags.DEFINE_integer("file_size", 64, "Side of the PNG files.")
flags.DEFINE_string("data_dir", None, "tfds data dir (default: a temp dir).")
flags.DEFINE_float(
    "train_steps_per_sec",
    None,
    "Training steps per second of the model to feed; prints the images/s it needs.",
)
flags.DEFINE_integer("repeats", 3, "Timed runs; the best is kept.")


def naive_options() -> tf.data.Options:
    options = tf.data.Options()
    options.experimental_optimization.map_parallelization = False
    options.experimental_optimization.inject_prefetch = False
    options.experimental_optimization.parallel_batch = False
    options.deterministic = True
    return options


def naive_pipeline(dataset, decode, size, channels, batch_size, num_examples, seed=0):
    """Decode and resize in a sequential map, shuffle, repeat, batch, normalise; nothing else."""
    ds = dataset.map(lambda e: tdata.preprocess(decode(e), size, channels, "resize"))
    ds = ds.shuffle(min(num_examples, 10_000), seed=seed).repeat()
    ds = ds.batch(batch_size, drop_remainder=True)
    ds = ds.map(lambda b: tf.cast(b, tf.float32) * (2.0 / 255.0) - 1.0)
    return ds.with_options(naive_options())


def naive_tfds(name, data_dir, size, channels, batch_size):
    builder = tfds.builder(name, data_dir=data_dir)
    read_config = tfds.ReadConfig(
        try_autocache=False,
        skip_prefetch=True,
        num_parallel_calls_for_decode=1,
        num_parallel_calls_for_interleave_files=1,
        interleave_cycle_length=1,
    )
    ds = builder.as_dataset(split="train", read_config=read_config)
    n = builder.info.splits["train"].num_examples
    return naive_pipeline(ds, lambda e: e["image"], size, channels, batch_size, n)


def naive_folder(files, size, channels, batch_size):
    def decode(path):
        image = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
        image.set_shape((None, None, 3))
        return image

    ds = tf.data.Dataset.from_tensor_slices(files).shuffle(len(files), seed=0)
    return naive_pipeline(ds, decode, size, channels, batch_size, len(files))


def rate(dataset, batches, batch_size, warmup=5):
    """Images per second over `batches` batches, after `warmup` batches (tracing, cache fill)."""
    iterator = iter(dataset)
    for _ in range(warmup):
        next(iterator)
    start = time.perf_counter()
    for _ in range(batches):
        next(iterator)
    return batches * batch_size / (time.perf_counter() - start)


def best_rate(make, batches, batch_size, repeats, warmup=5):
    return max(rate(make(), batches, batch_size, warmup) for _ in range(repeats))


def first_pass_rate(dataset, num_examples):
    """Images per second over one full pass of a freshly built (not yet cached) dataset."""
    start = time.perf_counter()
    count = sum(int(b.shape[0]) for b in dataset)
    elapsed = time.perf_counter() - start
    assert count <= num_examples
    return count / elapsed


def write_folder(root, num_files, size, seed=0):
    """Write `num_files` PNG crops of the bundled photographs into two class sub-folders."""
    rng = np.random.default_rng(seed)
    photos = list(builders.photo_arrays().values())
    files = []
    for i in range(num_files):
        photo = photos[i % len(photos)]
        y = rng.integers(0, photo.shape[0] - size + 1)
        x = rng.integers(0, photo.shape[1] - size + 1)
        sub = os.path.join(root, f"class{i % 2}")
        os.makedirs(sub, exist_ok=True)
        path = os.path.join(sub, f"{i:05d}.png")
        tf.io.write_file(path, tf.io.encode_png(photo[y : y + size, x : x + size]))
        files.append(path)
    return files


def main(argv):
    del argv
    work = tempfile.mkdtemp(prefix="tfgen_input_bench_")
    data_dir = FLAGS.data_dir or os.path.join(work, "tfds")
    bs = FLAGS.batch_size
    results = []

    def report(label, fast, slow):
        results.append((label, fast, slow))
        print(
            f"{label:<44} tfgen {fast:>10,.0f} img/s   naive {slow:>9,.0f} img/s   "
            f"x{fast / slow:.1f}",
            flush=True,
        )

    try:
        print(
            f"TensorFlow {tf.__version__}, {os.cpu_count()} CPUs, "
            f"GPUs: {len(tf.config.list_physical_devices('GPU'))}, batch_size={bs}, "
            f"best of {FLAGS.repeats} runs"
        )
        # Prepare the bundled digits once (not timed).
        tdata.load("digits", data_dir=data_dir, batch_size=1)

        def fast_digits():
            return tdata.load(
                "digits", data_dir=data_dir, image_size=32, batch_size=bs, repeat=True, seed=0
            )

        def slow_digits():
            return naive_tfds(sources.resolve_tfds_name("digits"), data_dir, (32, 32), None, bs)

        report(
            "digits 8x8 -> 32x32x1",
            best_rate(fast_digits, FLAGS.batches, bs, FLAGS.repeats, warmup=1500 // bs + 2),
            best_rate(slow_digits, FLAGS.batches // 3, bs, FLAGS.repeats),
        )

        folder = os.path.join(work, "images")
        start = time.perf_counter()
        files = write_folder(folder, FLAGS.num_files, FLAGS.file_size)
        print(
            f"wrote {len(files)} PNG files of {FLAGS.file_size}x{FLAGS.file_size} in "
            f"{time.perf_counter() - start:.1f} s"
        )
        size = FLAGS.file_size
        name = f"folder:{folder}"
        n = len(files)

        def fast_folder(**kwargs):
            return tdata.load(name, image_size=size, batch_size=bs, seed=0, **kwargs)

        def slow_folder():
            return naive_folder(files, (size, size), None, bs)

        cold = max(first_pass_rate(fast_folder(), n) for _ in range(FLAGS.repeats))
        cold_naive = max(
            first_pass_rate(slow_folder().take(n // bs), n) for _ in range(FLAGS.repeats)
        )
        report(f"folder {n} PNG {size}x{size}, first pass", cold, cold_naive)
        warm = best_rate(
            lambda: fast_folder(repeat=True), FLAGS.batches, bs, FLAGS.repeats, warmup=n // bs + 2
        )
        report(f"folder {n} PNG {size}x{size}, cached passes", warm, cold_naive)
        half = size // 2
        resized = max(
            first_pass_rate(tdata.load(name, image_size=half, batch_size=bs, seed=0), n)
            for _ in range(FLAGS.repeats)
        )
        resized_naive = max(
            first_pass_rate(naive_folder(files, (half, half), None, bs).take(n // bs), n)
            for _ in range(FLAGS.repeats)
        )
        report(f"folder {n} PNG -> {half}x{half}, first pass", resized, resized_naive)

        if FLAGS.train_steps_per_sec:
            need = FLAGS.train_steps_per_sec * bs
            print(
                f"\ntraining at {FLAGS.train_steps_per_sec:g} steps/s x batch {bs} consumes "
                f"{need:,.0f} img/s"
            )
            for label, fast, _ in results:
                verdict = "ok" if fast >= need else "INPUT-BOUND"
                print(f"  {label:<44} {fast / need:>8.1f}x the need  {verdict}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    _common.run(main)
