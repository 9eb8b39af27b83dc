"""Every benchmark runs end to end on tiny flags and prints its summary.

They run in child processes of tests/benchmark_runs.py, one for the quick ones and one for those
that train several GANs or the independent judge (marked slow), side by side, each importing
TensorFlow once rather than once per script, so that a benchmark broken by a change of the library
fails here rather than when someone next measures. No figure is asserted: figures come from
measuring runs, recorded in BENCHMARKS.md. PyTorch is an optional peer (`pip install torch`) of
gan_throughput.py alone; without it the script prints that its PyTorch rows are left out, which is
checked instead.
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


#: The two child processes: the quick benchmarks, and the slow ones (marked slow).
GROUPS = {"quick": frozenset(SUMMARY) - SLOW, "slow": frozenset(SLOW)}


def group_of(name):
    return "slow" if name in SLOW else "quick"


@pytest.fixture(scope="module")
def run_group(request, tmp_path_factory):
    """run_group(group) -> ({name: outcome}, work folder) of the group's child process.

    The groups whose tests were selected start together at first use: each process spends much
    of its time in single-threaded Python (imports, tracing, small steps), so side by side they
    keep both cores of the CI machine busy where one after the other they would not.
    """
    selected = {
        group_of(item.callspec.params["name"])
        for item in request.session.items
        if item.originalname == "test_benchmark_runs_on_tiny_flags"
    }
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([REPO, *filter(None, [env.get("PYTHONPATH")])])
    runner = os.path.join(REPO, "tests", "benchmark_runs.py")
    started, finished = {}, {}
    for group in sorted(selected):
        work = tmp_path_factory.mktemp(f"benchmarks_{group}")
        command = [sys.executable, runner, str(work / "results.json"), str(work)]
        # Output to files, not pipes: a pipe nobody reads yet would stall its process.
        with open(work / "stdout.txt", "w") as stdout, open(work / "stderr.txt", "w") as stderr:
            process = subprocess.Popen(
                [*command, *sorted(GROUPS[group])], env=env, stdout=stdout, stderr=stderr
            )
        started[group] = process, work

    def run(group):
        if group not in finished:
            process, work = started[group]
            process.wait(timeout=1800)
            stderr = (work / "stderr.txt").read_text()
            assert process.returncode == 0, stderr[-3000:]
            finished[group] = json.loads((work / "results.json").read_text()), work
        return finished[group]

    yield run
    for process, _ in started.values():
        if process.poll() is None:  # a failed or interrupted session: stop the other group
            process.kill()
            process.wait()


@pytest.mark.parametrize(
    "name",
    [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in sorted(SUMMARY)],
)
def test_benchmark_runs_on_tiny_flags(run_group, name):
    outcomes, work = run_group(group_of(name))
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
