"""Pictures of training: image grids and loss curves as PNG files, drawn with matplotlib.

Figures are drawn on matplotlib's Agg canvas directly (no pyplot, no display, no global figure
state), so they work on headless machines and from callbacks during training.
"""

from __future__ import annotations

import math
import os

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from tfgen import _checks as checks
from tfgen import _files
from tfgen import images as tfgen_images
from tfgen._checks import positive_int

__all__ = ["grid_size", "image_grid", "loss_curves", "loss_curves_size", "metric_group"]

#: Images are enlarged by whole-pixel replication until their longer side is at least this many
#: pixels, so grids of small images (8x8 digits) stay legible.
MIN_TILE_SIDE = 64
#: Pixels of the band above the grid that holds the title, when there is one.
TITLE_HEIGHT = 28
#: Font sizes (points) of the title: the largest, and the smallest it shrinks to on narrow grids.
TITLE_FONT_SIZE = 11
MIN_TITLE_FONT_SIZE = 5
#: Pixels between tiles and around the grid.
PADDING = 2
#: Grey level of the padding (1 = white).
PADDING_VALUE = 1.0
# Dots per inch of the saved figures; grid sizes are exact in pixels whatever this is.
_DPI = 100


def _check_path(path, name="path"):
    if not isinstance(path, str | os.PathLike) or not os.fspath(path):
        raise ValueError(f"{name} must be a file path, got {path!r}")
    path = os.fspath(path)
    if os.path.isdir(path):
        raise ValueError(f"{name} {path!r} is a directory, not a file path")
    directory = checks.directory_path(
        os.path.dirname(os.path.abspath(path)), f"the folder of {name}"
    )
    os.makedirs(directory, exist_ok=True)
    return path


def _check_images(images):
    try:
        images = np.asarray(images, dtype=np.float32)
    except (TypeError, ValueError):
        raise ValueError(
            f"images must be an array (n, H, W, C) with C in (1, 3), got {type(images).__name__}"
        ) from None
    if images.ndim != 4 or images.shape[-1] not in (1, 3) or 0 in images.shape:
        raise ValueError(
            f"images must be an array (n, H, W, C) with n, H, W >= 1 and C in (1, 3), "
            f"got shape {images.shape}"
        )
    tfgen_images.check_range(images, "images", tfgen_images.UNIT_RANGE, "pixels to draw")
    return np.clip(images, 0.0, 1.0)


def grid_size(n, image_height, image_width, columns=None, scale=None, title=None):
    """Pixel size `(height, width)` of the PNG `image_grid` writes for `n` such images.

    `columns` defaults to `ceil(sqrt(n))` and `scale` to the smallest integer that brings the
    longer image side to `MIN_TILE_SIDE` pixels; `rows = ceil(n / columns)`. Then
    `width = columns * image_width * scale + (columns + 1) * PADDING` and
    `height = rows * image_height * scale + (rows + 1) * PADDING`, plus `TITLE_HEIGHT` with a
    title.
    """
    n = positive_int(n, "n")
    columns = min(n, positive_int(columns, "columns")) if columns is not None else None
    columns = columns or math.ceil(math.sqrt(n))
    if scale is None:
        scale = max(1, math.ceil(MIN_TILE_SIDE / max(image_height, image_width)))
    scale = positive_int(scale, "scale")
    rows = math.ceil(n / columns)
    height = rows * image_height * scale + (rows + 1) * PADDING
    width = columns * image_width * scale + (columns + 1) * PADDING
    if height * width > checks.MAX_PIXELS:
        raise ValueError(
            f"the grid of {n} images of {image_height} x {image_width} at scale={scale} would be "
            f"{height} x {width} pixels, more than {checks.MAX_PIXELS:,}: use a smaller scale "
            "or fewer images"
        )
    return height + (TITLE_HEIGHT if title else 0), width


def _mosaic(images, columns, scale):
    n, h, w, c = images.shape
    rows = math.ceil(n / columns)
    tile_h, tile_w = h * scale, w * scale
    mosaic = np.full(
        (rows * tile_h + (rows + 1) * PADDING, columns * tile_w + (columns + 1) * PADDING, c),
        PADDING_VALUE,
        dtype=np.float32,
    )
    tiles = images.repeat(scale, axis=1).repeat(scale, axis=2)
    for i, tile in enumerate(tiles):
        row, column = divmod(i, columns)
        top = PADDING + row * (tile_h + PADDING)
        left = PADDING + column * (tile_w + PADDING)
        mosaic[top : top + tile_h, left : left + tile_w] = tile
    return mosaic


def image_grid(images, path, columns=None, title=None, scale=None):
    """Writes `images` side by side in a grid, as a PNG file.

    Each image is enlarged by whole-pixel replication (`scale`, no interpolation) and placed
    row by row, left to right, with `PADDING` white pixels between and around them; the PNG's
    pixels are the images' pixels (quantised to 8 bits), and its size is `grid_size(...)`.
    One-channel images are drawn in grey levels (0 black, 1 white).

    Args:
        images: Array (n, H, W, C) of floats in [0, 1], C = 1 (grey) or 3 (RGB).
        path: PNG file to write; missing directories are created.
        columns: Images per row; default `ceil(sqrt(n))`.
        title: Optional text drawn in a band above the grid.
        scale: Integer enlargement; default the smallest that makes the longer image side at
            least `MIN_TILE_SIDE` pixels.

    Returns:
        `path`.

    Raises:
        ValueError: images not (n, H, W, 1 or 3), not finite or outside [0, 1]; columns or
            scale not a positive int.
    """
    images = _check_images(images)
    path = _check_path(path)
    n, h, w, _ = images.shape
    height, width = grid_size(n, h, w, columns, scale, title)
    columns = min(n, columns) if columns is not None else math.ceil(math.sqrt(n))
    scale = scale or max(1, math.ceil(MIN_TILE_SIDE / max(h, w)))
    mosaic = _mosaic(images, columns, scale)

    figure = Figure(figsize=(width / _DPI, height / _DPI), dpi=_DPI, facecolor="white")
    canvas = FigureCanvasAgg(figure)
    if mosaic.shape[-1] == 1:
        # figimage draws array pixels onto figure pixels one to one: no resampling.
        figure.figimage(mosaic[..., 0], cmap="gray", vmin=0.0, vmax=1.0, origin="upper")
    else:
        figure.figimage(mosaic, origin="upper")
    if title:
        text = figure.text(
            0.5,
            1.0 - (TITLE_HEIGHT / 2) / height,
            str(title),
            ha="center",
            va="center",
            fontsize=TITLE_FONT_SIZE,
        )
        # Shrink a title wider than the grid until it fits (down to a legible minimum).
        text_width = text.get_window_extent(renderer=canvas.get_renderer()).width
        if text_width > width - 2 * PADDING:
            scaled = 0.95 * TITLE_FONT_SIZE * (width - 2 * PADDING) / text_width
            text.set_fontsize(max(MIN_TITLE_FONT_SIZE, scaled))
    with _files.replaced_atomically(path) as staging:
        figure.savefig(staging, dpi=_DPI, facecolor="white")
    return path


def _as_history_dict(history):
    values = getattr(history, "history", history)
    if not isinstance(values, dict):
        raise ValueError(
            "history must be a keras.callbacks.History or a dict of metric name -> list of "
            f"values, got {type(history).__name__}"
        )
    curves = {}
    for name, series in values.items():
        try:
            series = np.asarray(series, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError):
            continue  # Not a numeric series (e.g. a string logged by a callback).
        if series.size:
            curves[str(name)] = series
    if not curves:
        raise ValueError(f"history holds no numeric metric values, got {values!r}")
    return curves


#: Panels of `loss_curves` (and TensorBoard's groups, `metric_group`): a metric name (without
#: "val_") ending in one of these suffixes, or equal to one of these names, joins the panel.
LOSS_SUFFIXES = ("loss", "penalty")
DISCRIMINATOR_OUTPUTS = ("d_real", "d_fake")
UNIT_SCORES = ("precision", "recall")
#: Suffixes of companion series drawn in their metric's panel: a spread and a floor.
SPREAD_SUFFIX, FLOOR_SUFFIX = "_std", "_floor"
#: Pixel height of one row of panels (two panels a row) and the least height of the figure.
PANEL_ROW_HEIGHT, MIN_FIGURE_HEIGHT, FIGURE_WIDTH = 250, 500, 800


def metric_group(name):
    """The panel (and TensorBoard group) of a metric: "losses", "discriminator outputs",
    "precision and recall", or the metric's own name (FID, KID, PSNR, ... each on its scale).
    A spread `<m>_std` or floor `<m>_floor` goes with `<m>`."""
    base = name[len("val_") :] if name.startswith("val_") else name
    for suffix in (FLOOR_SUFFIX, SPREAD_SUFFIX):
        if base.endswith(suffix) and len(base) > len(suffix):
            base = base[: -len(suffix)]
    if base.endswith(LOSS_SUFFIXES):
        return "losses"
    if base in DISCRIMINATOR_OUTPUTS:
        return "discriminator outputs"
    if base in UNIT_SCORES:
        return "precision and recall"
    return base


def _panels(curves):
    """{panel: [names]} in the order: losses, discriminator outputs, then first appearance."""
    panels = {}
    for group in ("losses", "discriminator outputs"):
        if any(metric_group(name) == group for name in curves):
            panels[group] = []
    for name in curves:
        panels.setdefault(metric_group(name), []).append(name)
    return panels


def loss_curves_size(history):
    """Pixel size `(height, width)` of the PNG `loss_curves` writes for `history`."""
    rows = math.ceil(len(_panels(_as_history_dict(history))) / 2)
    return max(MIN_FIGURE_HEIGHT, rows * PANEL_ROW_HEIGHT), FIGURE_WIDTH


def _draw(axes, name, series, colours):
    """One series: a line through its finite points, markers where few epochs have values."""
    epochs = np.arange(1, series.size + 1)
    finite = np.isfinite(series)
    base = name[len("val_") :] if name.startswith("val_") else name
    # Scores of evaluated epochs only (NaN elsewhere): the points joined, each one marked.
    sparse = finite.sum() < series.size and not np.all(np.isnan(series))
    if sparse:
        epochs, series = epochs[finite], series[finite]
    style = dict(
        label=name,
        linestyle="--" if name.startswith("val_") else "-",
        marker="o" if sparse or series.size <= 20 else None,
        markersize=4 if sparse else 3,
    )
    if base in colours:
        style["color"] = colours[base]
    (line,) = axes.plot(epochs, series, **style)
    colours.setdefault(base, line.get_color())
    return line


def _spans_decades(values, ratio=30.0):
    values = values[values != 0]
    return values.size > 1 and values.min() > 0 and values.max() > ratio * values.min()


def loss_curves(history, path, title=None):
    """Plots a training history against the epoch as a PNG, one panel per kind of number.

    Panels (`metric_group`), each with its own scale: losses (`*loss`, gradient penalties),
    discriminator outputs (`d_real`, `d_fake`), precision and recall together, and every
    other metric alone (FID, KID, SWD, PSNR, ...). A validation metric `val_<name>` is drawn
    dashed in the colour of `<name>`; a spread `<name>_std` is a band around `<name>`, a floor
    `<name>_floor` (real against real data) a dotted horizontal line. Metrics scored only on
    some epochs (NaN on the others, as `EvaluateGenerator` logs them) are drawn as markers at
    those epochs, joined; a score panel whose positive values span more than 30x has a
    logarithmic scale. The figure is `loss_curves_size(history)` pixels: two panels a row.

    Args:
        history: The `keras.callbacks.History` returned by `fit`, or its `.history` dict
            (metric name -> one value per epoch).
        path: PNG file to write; missing directories are created.
        title: Optional title of the figure.

    Returns:
        `path`.

    Raises:
        ValueError: `history` is neither a History nor a dict, or holds no numeric values.
    """
    curves = _as_history_dict(history)
    path = _check_path(path)
    height, width = loss_curves_size(curves)
    panels = _panels(curves)
    rows = math.ceil(len(panels) / 2)
    columns = 1 if len(panels) == 1 else 2
    figure = Figure(figsize=(width / _DPI, height / _DPI), dpi=_DPI, facecolor="white")
    FigureCanvasAgg(figure)
    colours = {}
    for index, (panel, names) in enumerate(panels.items()):
        axes = figure.add_subplot(rows, columns, index + 1)
        companions = [n for n in names if n.endswith((SPREAD_SUFFIX, FLOOR_SUFFIX))]
        plotted = {}
        for name in sorted(
            (n for n in names if n not in companions), key=lambda n: n.startswith("val_")
        ):
            plotted[name] = _draw(axes, name, curves[name], colours)
        for name in companions:
            suffix = SPREAD_SUFFIX if name.endswith(SPREAD_SUFFIX) else FLOOR_SUFFIX
            base = name[: -len(suffix)]
            series = curves[name]
            colour = plotted[base].get_color() if base in plotted else "grey"
            if suffix == FLOOR_SUFFIX:
                finite = series[np.isfinite(series)]
                if finite.size:
                    axes.axhline(
                        finite[-1], color=colour, linestyle=":", label=f"{base} floor (real)"
                    )
            elif base in curves and np.any(np.isfinite(series)):
                centre = curves[base]
                finite = np.isfinite(centre) & np.isfinite(series)
                epochs = np.arange(1, centre.size + 1)[finite]
                low, high = centre[finite] - series[finite], centre[finite] + series[finite]
                axes.fill_between(epochs, low, high, color=colour, alpha=0.2, label=f"± {name}")
        values = np.concatenate([curves[n][np.isfinite(curves[n])] for n in names])
        if panel not in ("losses", "discriminator outputs") and _spans_decades(values):
            axes.set_yscale("log")  # A score falling from noise level to near its floor.
        axes.set_title(panel, fontsize="medium")
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.grid(True, alpha=0.3)
        axes.legend(loc="best", fontsize="x-small")
        if index >= len(panels) - columns:
            axes.set_xlabel("epoch")
    if title:
        figure.suptitle(str(title))
    figure.tight_layout()
    with _files.replaced_atomically(path) as staging:
        figure.savefig(staging, dpi=_DPI, facecolor="white")
    return path
