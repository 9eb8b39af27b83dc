"""Runs each benchmark's `main` on tiny flags, all in this one process (tests/test_benchmarks.py).

    python tests/benchmark_runs.py RESULTS.json WORK_DIR [NAME ...]

One process, because importing TensorFlow costs seconds: each benchmark is imported from
benchmarks/ under its own module name, its absl flags parsed from `tiny_flags`, its `main`
called with its printout captured, and its flags deleted again before the next one defines
theirs. RESULTS.json maps each name to {"status": "ok" | "failed", "output", "seconds",
"cpu_seconds"}: wall clock, and the CPU time of all threads (on a shared machine the steadier
cost).
"""

import contextlib
import importlib.util
import io
import json
import os
import sys
import time
import traceback

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCHMARKS = os.path.join(REPO, "benchmarks")


def tiny_flags(work):
    """Per benchmark, in the order run: tiny flags, in place of the measuring defaults.

    A list of lists runs the benchmark once per list: metrics.py's two variants, which it
    otherwise runs in child processes of their own (measuring their memory), run here in this
    process. distributed_step.py splits the CPU into two logical devices, which TensorFlow
    allows only before its first use, so it comes first. restoration.py, reconstruction.py and
    inversion.py turn on TensorFlow's op determinism for the process and cpu_remapper.py
    switches grappler's remapper, so they come last.
    """
    gan8 = ["--image_size=8", "--batch_size=8", "--warmup=1"]
    return {
        "distributed_step": [
            "--image_size=8",
            "--batch_size=8",
            "--latent_dim=8",
            "--base_filters=8",
            "--steps=2",
            "--repeats=1",
        ],
        "frechet_sqrt": ["--dim=16", "--repeats=1"],
        "metrics": [
            [f"--variant={variant}", "--samples=200", "--dim=8", "--batch=100"]
            for variant in ("tfgen", "naive")
        ],
        "optimizer_step": [
            "--shapes=large",
            "--optimizers=nesterov",
            "--steps=1",
            "--repeats=1",
            "--modes=call",
        ],
        "input_pipeline": [
            "--batch_size=16",
            "--batches=3",
            "--num_files=32",
            "--file_size=16",
            "--repeats=1",
            "--train_steps_per_sec=10",
        ],
        "gan_layers": [*gan8, "--latent_dim=8", "--steps=1", "--repeats=1"],
        "gan_throughput": [
            *gan8,
            "--latent_dim=8",
            "--base_filters=8",
            "--steps=2",
            "--repeats=1",
        ],
        "gan_ablation": [
            *gan8,
            "--only=kernel 3",
            "--seconds=0.01",
            "--seeds=1",
            "--samples=20",
            "--rounds=1",
            "--round_seconds=0.01",
        ],
        "gan_quality": [
            *gan8,
            "--seconds=0.01",
            "--runs=1",
            "--samples=20",
            "--round_seconds=0.01",
            "--latent_dim=8",
            "--base_filters=8",
            "--judge_max_iter=5",
        ],
        "default_run_quality": [
            f"--models=tiny={os.path.join(work, 'gan.keras')}",
            "--samples=20",
            "--image_size=8",
            "--judge_max_iter=5",
        ],
        "conditional": [
            "--steps=1",
            "--seeds=1",
            "--samples=20",
            "--fractions=0.1",
            "--batch_size=8",
            "--latent_dim=8",
            "--base_filters=8",
            "--classifier_epochs=1",
        ],
        "photos_checkerboard": [
            "--steps=1",
            "--seeds=1",
            f"--figure={os.path.join(work, 'checkerboard.png')}",
        ],
        "sngan_photos": [
            "--steps=11",
            "--seeds=1",
            "--batch_size=4",
            "--latent_dim=8",
            "--base_filters=8",
            f"--figure={os.path.join(work, 'sngan_photos.png')}",
        ],
        "stylize": [
            "--budget=12",
            "--image_size=16",
            "--grid=1",
            f"--figure={os.path.join(work, 'stylize.png')}",
        ],
        "cpu_remapper": ["--steps=1", "--repeats=1"],
        "restoration": [
            "--steps=1",
            "--batch_size=4",
            "--filters=4",
            "--dip_steps=1",
            "--bm3d_crops=1",
            "--test_crops=8",
            "--permute_channels=0.5",
            "--self_ensemble=flips",
            "--trace_every=1",
            f"--figure={os.path.join(work, 'restoration.png')}",
        ],
        "reconstruction": ["--steps=1", "--batch_size=4"],
        "inversion": ["--images=2", "--epochs=1", "--max_budget=10"],
    }


def torch_installed():
    """Whether PyTorch, the optional peer of gan_throughput.py, can be imported."""
    return importlib.util.find_spec("torch") is not None


def tiny_gan(path):
    """A GAN on 8x8 digits trained two steps and saved, for default_run_quality.py to score."""
    import keras  # noqa: PLC0415

    import tfgen.data  # noqa: PLC0415
    from tfgen import architectures  # noqa: PLC0415
    from tfgen.models import GAN  # noqa: PLC0415

    keras.utils.set_random_seed(0)
    shape = (8, 8, 1)
    gan = GAN(
        architectures.dcgan_generator(shape, 4, base_filters=4),
        architectures.dcgan_discriminator(shape, base_filters=4),
        seed=0,
    )
    gan.compile()
    gan.fit(tfgen.data.load("digits", batch_size=8, repeat=True), steps_per_epoch=2, verbose=0)
    gan.save(path)


def run(name, argv):
    """Imports benchmarks/<name>.py, parses `argv`, calls its main; returns its printout."""
    from absl import flags  # noqa: PLC0415

    values = flags.FLAGS
    before = set(values)
    path = os.path.join(BENCHMARKS, f"{name}.py")
    module_name = f"benchmark_{name}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    # Registered, so that autograph finds the source of the functions it converts.
    sys.modules[module_name] = module
    runs = argv if argv and isinstance(argv[0], list) else [argv]
    output = io.StringIO()
    try:
        spec.loader.exec_module(module)
        for one in runs:
            values.unparse_flags()
            rest = values([path, *one])
            with contextlib.redirect_stdout(output):
                module.main(rest)
    finally:
        for flag in set(values) - before:
            delattr(values, flag)
        del sys.modules[module_name]
    return output.getvalue()


def main(results_path, work, names=()):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.path.insert(0, BENCHMARKS)
    work = os.path.abspath(work)
    plan = tiny_flags(work)
    names = [name for name in plan if name in names] if names else list(plan)
    if "default_run_quality" in names:
        tiny_gan(os.path.join(work, "gan.keras"))
    results = {}
    for name in names:
        start, start_cpu = time.perf_counter(), time.process_time()
        try:
            output, status = run(name, plan[name]), "ok"
        except Exception:  # noqa: BLE001  (reported per benchmark, the next still runs)
            output, status = traceback.format_exc(), "failed"
        seconds, cpu = time.perf_counter() - start, time.process_time() - start_cpu
        results[name] = dict(status=status, output=output, seconds=seconds, cpu_seconds=cpu)
        print(f"{name}: {status} in {seconds:.1f} s ({cpu:.1f} s of CPU)", flush=True)
    with open(results_path, "w") as file:
        json.dump(results, file, indent=1)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
