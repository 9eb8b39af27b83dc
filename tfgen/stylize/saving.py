"""Writing a `StylizeResult`: the image, the progress, the loss curve and the settings."""

from __future__ import annotations

import os

from tfgen import _checks as checks
from tfgen._files import replaced_atomically
from tfgen.stylize._loop import StylizeResult

__all__ = ["save_result"]


def save_result(result, output_dir, settings=None):
    """Write a `StylizeResult` into `output_dir`; return the paths written.

    image.png (the result), progress.png (the snapshots, titled with their evaluations),
    losses.png (the loss per evaluation, via `tfgen.plot`) and, with `settings` (a dict of
    JSON-serialisable values), settings.json. Each file is written beside its final name and
    then renamed, so an interrupted save never leaves a half-written file.
    """
    import json

    from tfgen import plot

    if not isinstance(result, StylizeResult):
        raise ValueError(f"result must be a StylizeResult, got {type(result).__name__}")
    os.makedirs(checks.directory_path(output_dir, "output_dir"), exist_ok=True)
    paths = {name: os.path.join(output_dir, name) for name in ("image.png", "progress.png")}
    paths["losses.png"] = os.path.join(output_dir, "losses.png")

    def atomic(path, write):
        with replaced_atomically(path) as temporary:
            write(temporary)

    atomic(paths["image.png"], lambda path: plot.image_grid(result.image[None], path, scale=4))
    evaluations = ", ".join(str(n) for n in result.snapshot_evaluations)
    atomic(
        paths["progress.png"],
        lambda path: plot.image_grid(
            result.snapshots,
            path,
            columns=len(result.snapshots),
            title=f"after {evaluations} evaluations",
        ),
    )
    curve = {"loss per evaluation": result.losses}
    atomic(paths["losses.png"], lambda path: plot.loss_curves(curve, path))
    if settings is not None:
        paths["settings.json"] = os.path.join(output_dir, "settings.json")
        text = json.dumps(settings, indent=2, sort_keys=True)
        with replaced_atomically(paths["settings.json"]) as temporary:
            with open(temporary, "w") as stream:
                stream.write(text + "\n")
    return paths
