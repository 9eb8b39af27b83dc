"""Every benchmark runs end to end on tiny flags and prints its summary.

All of them run in one child process (tests/benchmark_runs.py: importing TensorFlow once, not
once per script), so a benchmark broken by a change of the library fails here rather than when
someone next measures. No figure is asserted: figures come from measuring runs, recorded in
BENCHMARKS.md. PyTorch is an optional peer (`pip install torch`) of gan_throughput.py alone;
without it the script prints that its PyTorch rows are left out, which is checked instead.
"""

import json
import os
import subprocess
import sys

import benchmark_runs
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: Benchmarks other sessions are changing; they move to benchmarks/_common.py and join the
#: runner's table afterwards.
NOT_YET = {"restoration", "reconstruction", "distributed_step"}
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
}


def test_every_benchmark_script_has_a_smoke_run():
    scripts = {
        name[:-3]
        for name in os.listdir(os.path.join(REPO, "benchmarks"))
        if name.endswith(".py") and not name.startswith("_")
    }
    assert scripts - NOT_YET == set(benchmark_runs.tiny_flags("work")) == set(SUMMARY)


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    work = tmp_path_factory.mktemp("benchmarks")
    path = work / "results.json"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([REPO, *filter(None, [env.get("PYTHONPATH")])])
    runner = os.path.join(REPO, "tests", "benchmark_runs.py")
    finished = subprocess.run(
        [sys.executable, runner, str(path), str(work)],
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    return json.loads(path.read_text()), work


@pytest.mark.parametrize("name", sorted(SUMMARY))
def test_benchmark_runs_on_tiny_flags(results, name):
    outcomes, work = results
    outcome = outcomes[name]
    assert outcome["status"] == "ok", outcome["output"]
    assert SUMMARY[name] in outcome["output"], outcome["output"]
    if name == "gan_throughput" and not benchmark_runs.torch_installed():
        assert "torch is not installed" in outcome["output"]
    figures = {
        "photos_checkerboard": "checkerboard.png",
        "sngan_photos": "sngan_photos.png",
        "stylize": "stylize.png",
    }
    if name in figures:
        assert (work / figures[name]).stat().st_size > 0
