"""Every benchmark runs end to end on tiny flags and prints its summary.

They run in child processes of tests/benchmark_runs.py, one for the quick ones and one for
those that train several GANs or the independent judge (marked slow), each importing
TensorFlow once rather than once per script, so that a benchmark broken by a change of the
library fails here rather than when someone next measures. No figure is asserted: figures come
from measuring runs, recorded in BENCHMARKS.md. PyTorch is an optional peer (`pip install
torch`) of gan_throughput.py alone; without it the script prints that its PyTorch rows are left
out, which is checked instead.
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


@pytest.fixture(scope="module")
def run_group(tmp_path_factory):
    """run_group(names) -> ({name: outcome}, work folder), one child process per group."""
    groups = {}

    def run(names):
        key = tuple(sorted(names))
        if key not in groups:
            work = tmp_path_factory.mktemp("benchmarks")
            path = work / "results.json"
            env = dict(os.environ)
            env["PYTHONPATH"] = os.pathsep.join([REPO, *filter(None, [env.get("PYTHONPATH")])])
            runner = os.path.join(REPO, "tests", "benchmark_runs.py")
            finished = subprocess.run(
                [sys.executable, runner, str(path), str(work), *key],
                env=env,
                capture_output=True,
                text=True,
                timeout=1800,
            )
            assert finished.returncode == 0, finished.stderr[-3000:]
            groups[key] = json.loads(path.read_text()), work
        return groups[key]

    return run


@pytest.mark.parametrize(
    "name",
    [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in sorted(SUMMARY)],
)
def test_benchmark_runs_on_tiny_flags(run_group, name):
    outcomes, work = run_group(SLOW if name in SLOW else set(SUMMARY) - SLOW)
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
