"""Benchmark flags that take names: the names arrive whole, and an unknown one stops the run."""

import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_photos_checkerboard_variants_keep_their_commas_and_refuse_unknown_names():
    # With a comma-separated list flag, "transpose, kernel 3" would arrive as two unknown names.
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([REPO, os.path.join(REPO, "benchmarks")]))
    script = os.path.join(REPO, "benchmarks", "photos_checkerboard.py")
    result = subprocess.run(
        [sys.executable, script, "--variants=transpose, kernel 3", "--variants=bogus"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode != 0
    assert "--variants: unknown ['bogus']; the variants are" in result.stderr, result.stderr
