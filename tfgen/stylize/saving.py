"""Writing a `StylizeResult`: the image, the progress, the loss curve and the settings."""

from __future__ import annotations

import os

from tfgen import _checks as checks
from tfgen import _files
from tfgen.stylize._loop import StylizeResult

__all__ = ["save_result"]

#: The pictures `save_result` writes.
PICTURES = ("image.png", "progress.png", "losses.png")


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
    folder = checks.directory_path(output_dir, "output_dir")
    os.makedirs(folder, exist_ok=True)
    _files.remove_leftovers(folder)  # Of an earlier save that was killed.
    paths = {name: os.path.join(output_dir, name) for name in PICTURES}
    # tfgen.plot writes its pictures through _files.replaced_atomically.
    plot.image_grid(result.image[None], paths["image.png"], scale=4)
    evaluations = ", ".join(str(n) for n in result.snapshot_evaluations)
    plot.image_grid(
        result.snapshots,
        paths["progress.png"],
        columns=len(result.snapshots),
        title=f"after {evaluations} evaluations",
    )
    plot.loss_curves({"loss per evaluation": result.losses}, paths["losses.png"])
    if settings is not None:
        paths["settings.json"] = os.path.join(output_dir, "settings.json")
        with _files.replaced_atomically(paths["settings.json"]) as temporary:
            with open(temporary, "w") as stream:
                json.dump(settings, stream, indent=2, sort_keys=True)
                stream.write("\n")
    return paths
