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
from tfgen._checks import positive_int

__all__ = ["grid_size", "image_grid", "loss_curves"]

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
    if not np.all(np.isfinite(images)):
        raise ValueError("images must be finite, got NaN or infinite values")
    low, high = float(images.min()), float(images.max())
    if low < -1e-3 or high > 1 + 1e-3:
        raise ValueError(
            f"images must lie in [0, 1], got values in [{low:g}, {high:g}] "
            "(map [-1, 1] model outputs with (x + 1) / 2)"
        )
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


def loss_curves(history, path, title=None):
    """Plots every metric of a training history against the epoch, one line each, as a PNG.

    A validation metric `val_<name>` is drawn dashed in the colour of `<name>`. Non-finite
    values leave gaps.

    Args:
        history: The `keras.callbacks.History` returned by `fit`, or its `.history` dict
            (metric name -> one value per epoch).
        path: PNG file to write; missing directories are created.
        title: Optional title of the plot.

    Returns:
        `path`.

    Raises:
        ValueError: `history` is neither a History nor a dict, or holds no numeric values.
    """
    curves = _as_history_dict(history)
    path = _check_path(path)
    figure = Figure(figsize=(8, 5), dpi=_DPI, facecolor="white")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    colours = {}
    training = [name for name in curves if not name.startswith("val_")]
    validation = [name for name in curves if name.startswith("val_")]
    for name in training + validation:
        series = curves[name]
        epochs = np.arange(1, series.size + 1)
        base = name[len("val_") :] if name.startswith("val_") else name
        style = dict(
            label=name,
            linestyle="--" if name.startswith("val_") else "-",
            marker="o" if series.size <= 20 else None,
            markersize=3,
        )
        if base in colours:
            style["color"] = colours[base]
        (line,) = axes.plot(epochs, np.where(np.isfinite(series), series, np.nan), **style)
        colours.setdefault(base, line.get_color())
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_xlabel("epoch")
    axes.set_ylabel("value")
    axes.grid(True, alpha=0.3)
    axes.legend(loc="best", fontsize="small")
    if title:
        axes.set_title(str(title))
    figure.tight_layout()
    with _files.replaced_atomically(path) as staging:
        figure.savefig(staging, dpi=_DPI, facecolor="white")
    return path
