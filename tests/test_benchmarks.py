"""Every benchmark runs end to end on tiny flags and prints its summary.

They run in two child processes of tests/benchmark_runs.py side by side, each importing TensorFlow
once rather than once per script, so that a benchmark broken by a change of the library fails here
rather than when someone next measures. No figure is asserted: figures come from measuring runs,
recorded in BENCHMARKS.md. PyTorch is an optional peer (`pip install torch`) of gan_throughput.py
alone; without it the script prints that its PyTorch rows are left out, which is checked instead.
"""

import json
import os
import subprocess
import sys

import benchmark_runs
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: What each benchmark prints last (or near it): its run reached the summary.
SUMMARY = {
    "frechet_sqrt": "relative difference of the traces",
    "metrics": '"memory"',
    "optimizer_step": "vs keras",
    "input_pipeline": "x the need",
    "gan_layers": "x Keras' layers",
    "gan_throughput": "x the reference",
    "gan_ablation": "| baseline | ",
    "gan_quality": "x its floor)",
    "default_run_quality": "| tiny | ",
    "conditional": "augmented / plain Fréchet distance",
    "photos_checkerboard": "| nearest + conv, kernel 3 | ",
    "sngan_photos": "samples: ",
    "stylize": "wrote ",
    "cpu_remapper": "Keras' LeakyReLU / tfgen's",
    "inversion": "total time",
    "distributed_step": "tfgen 2 replicas / 1 device",
    "restoration": "Figure: ",
    "reconstruction": "inpainting autoencoder, known pixels kept",
}
#: Benchmarks that build and compile several GANs (some with XLA) or train the judge's
#: classifier even on tiny flags: over 30 s each on the shared 2-core machine.
SLOW = {
    "gan_layers",
    "gan_throughput",
    "gan_ablation",
    "gan_quality",
    "default_run_quality",
    "cpu_remapper",
}


# Modules other benchmarks import, not scripts: the digits judge keeps the name issue 26 gave it.
LIBRARIES = {"digits_judge"}


def test_every_benchmark_script_has_a_smoke_run():
    scripts = {
        name[:-3]
        for name in os.listdir(os.path.join(REPO, "benchmarks"))
        if name.endswith(".py") and not name.startswith("_")
    } - LIBRARIES
    assert scripts == set(benchmark_runs.tiny_flags("work")) == set(SUMMARY)
    assert sorted(name for share in PROCESSES for name in share) == sorted(SUMMARY)


#: The benchmarks of each of the two child processes, which run side by side: shares of about
#: equal CPU time, whatever the slow mark (each runs its share in the order of `tiny_flags`).
PROCESSES = (
    frozenset(
        {
            *("distributed_step", "frechet_sqrt", "metrics", "optimizer_step"),
            *("input_pipeline", "conditional", "photos_checkerboard", "stylize"),
            *("restoration", "reconstruction"),
        }
    ),
    frozenset(
        {
            *("gan_layers", "gan_throughput", "gan_ablation", "gan_quality"),
            *("default_run_quality", "cpu_remapper", "sngan_photos", "inversion"),
        }
    ),
)


def process_of(name):
    return next(index for index, share in enumerate(PROCESSES) if name in share)


@pytest.fixture(scope="module")
def run_benchmarks(request, tmp_path_factory):
    """run_benchmarks(name) -> ({name: outcome}, work folder) of the child process that ran it.

    The processes start together at first use, each with the selected benchmarks of its share:
    much of their time goes to single-threaded Python (imports, tracing, small steps), so side
    by side they keep both cores of the CI machine busy where one after the other they would
    not.
    """
    selected = {
        item.callspec.params["name"]
        for item in request.session.items
        if item.originalname == "test_benchmark_runs_on_tiny_flags"
    }
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([REPO, *filter(None, [env.get("PYTHONPATH")])])
    runner = os.path.join(REPO, "tests", "benchmark_runs.py")
    started, finished = {}, {}
    for index, share in enumerate(PROCESSES):
        names = sorted(share & selected)
        if not names:
            continue
        work = tmp_path_factory.mktemp(f"benchmarks_{index}")
        command = [sys.executable, runner, str(work / "results.json"), str(work)]
        # Output to files, not pipes: a pipe nobody reads yet would stall its process.
        with open(work / "stdout.txt", "w") as stdout, open(work / "stderr.txt", "w") as stderr:
            process = subprocess.Popen([*command, *names], env=env, stdout=stdout, stderr=stderr)
        started[index] = process, work

    def run(name):
        index = process_of(name)
        if index not in finished:
            process, work = started[index]
            process.wait(timeout=1800)
            stderr = (work / "stderr.txt").read_text()
            assert process.returncode == 0, stderr[-3000:]
            finished[index] = json.loads((work / "results.json").read_text()), work
        return finished[index]

    yield run
    for process, _ in started.values():
        if process.poll() is None:  # a failed or interrupted session: stop the other one
            process.kill()
            process.wait()


@pytest.mark.parametrize(
    "name",
    [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in sorted(SUMMARY)],
)
def test_benchmark_runs_on_tiny_flags(run_benchmarks, name):
    outcomes, work = run_benchmarks(name)
    outcome = outcomes[name]
    assert outcome["status"] == "ok", outcome["output"]
    assert SUMMARY[name] in outcome["output"], outcome["output"]
    if name == "gan_throughput" and not benchmark_runs.torch_installed():
        assert "torch is not installed" in outcome["output"]
    figures = {
        "photos_checkerboard": "checkerboard.png",
        "sngan_photos": "sngan_photos.png",
        "stylize": "stylize.png",
        "restoration": "restoration.png",
    }
    if name in figures:
        assert (work / figures[name]).stat().st_size > 0
