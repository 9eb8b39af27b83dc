"""Tests of tfgen.plot: image grids (exact pixel size and content) and loss-curve plots."""

import matplotlib.image as mpimg
import numpy as np
import pytest

from tfgen import plot

# PNG pixels are 8-bit: a value comes back within one level, 1/255 (matplotlib's grey colour
# map quantises through a 256-entry table, which may round either way).
LEVEL = 1.0 / 255.0
TOLERANCE = 1.01 * LEVEL


def _tile(png, row, column, tile_h, tile_w, scale, padding=plot.PADDING, top_band=0):
    """The pixels of one tile of a written grid, sampled once per source pixel."""
    top = top_band + padding + row * (tile_h + padding)
    left = padding + column * (tile_w + padding)
    return png[top : top + tile_h : scale, left : left + tile_w : scale]


def test_grey_grid_has_the_computed_size_and_the_images_pixels(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(5, 8, 8, 1)).astype(np.float32) / 255.0
    path = plot.image_grid(images, tmp_path / "grid.png", columns=3, scale=2)
    png = mpimg.imread(path)
    # 5 images in 3 columns -> 2 rows of 16 x 16 tiles with 2-pixel padding around and between:
    # height 2 * 16 + 3 * 2 = 38, width 3 * 16 + 4 * 2 = 56.
    assert png.shape[:2] == (38, 56)
    for i in range(5):
        row, column = divmod(i, 3)
        tile = _tile(png, row, column, 16, 16, 2)
        # Grey levels: red, green and blue all equal the image.
        for channel in range(3):
            np.testing.assert_allclose(tile[..., channel], images[i, ..., 0], atol=TOLERANCE)
    # Every pixel of a tile is one replicated source pixel (no interpolation).
    block = png[2:18, 2:18, 0].reshape(8, 2, 8, 2)
    assert np.all(block == block[:, :1, :, :1])
    # The empty sixth cell and the padding are white.
    assert np.all(_tile(png, 1, 2, 16, 16, 1)[..., :3] == 1.0)
    assert np.all(png[0, :, :3] == 1.0)


def test_rgb_grid_with_title_and_default_layout(tmp_path):
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, size=(7, 10, 10, 3)).astype(np.float32) / 255.0
    path = plot.image_grid(images, tmp_path / "sub" / "grid.png", title="epoch 3")
    png = mpimg.imread(path)
    # Defaults: ceil(sqrt(7)) = 3 columns, 3 rows; scale ceil(64 / 10) = 7 -> 70-pixel tiles;
    # height 28 (title band) + 3 * 70 + 4 * 2 = 246, width 3 * 70 + 4 * 2 = 218.
    assert png.shape[:2] == (246, 218)
    assert plot.grid_size(7, 10, 10, title="epoch 3") == (246, 218)
    tile = _tile(png, 2, 0, 70, 70, 7, top_band=28)
    np.testing.assert_allclose(tile[..., :3], images[6], atol=TOLERANCE)
    # The title band holds dark text pixels.
    assert png[:28, :, :3].min() < 0.5


@pytest.mark.parametrize(
    "n, side, columns, scale, expected",
    [(1, 8, None, None, (68, 68)), (64, 16, None, None, (530, 530)), (3, 32, 5, 1, (36, 104))],
)
def test_grid_size_formula(tmp_path, n, side, columns, scale, expected):
    # (1) one 8x8 image at scale 8: 64 + 2 * 2; (2) 8 x 8 grid of 64-pixel tiles: 8 * 64 + 9 * 2;
    # (3) columns capped at n = 3: 3 * 32 + 4 * 2 wide, 32 + 2 * 2 high.
    assert plot.grid_size(n, side, side, columns, scale) == expected
    images = np.zeros((n, side, side, 1), np.float32)
    png = mpimg.imread(plot.image_grid(images, tmp_path / "g.png", columns=columns, scale=scale))
    assert png.shape[:2] == expected


def test_long_titles_are_shrunk_not_clipped(tmp_path):
    images = np.zeros((4, 8, 8, 1), np.float32)
    title = "conjugate_gradient: originals / known pixels / reconstructions"
    png = mpimg.imread(plot.image_grid(images, tmp_path / "t.png", columns=4, title=title))
    band = png[: plot.TITLE_HEIGHT, :, 0]
    # Dark text pixels, none in the outer columns: the title fits inside the grid's width.
    assert band.min() < 0.5
    assert band[:, :2].min() == 1.0 and band[:, -2:].min() == 1.0


@pytest.mark.parametrize(
    "images, match",
    [
        (np.zeros((8, 8, 1)), "images must be an array"),
        (np.zeros((2, 8, 8, 2)), "images must be an array"),
        (np.full((2, 8, 8, 1), 1.5), r"\[0, 1\]"),
        (np.full((2, 8, 8, 1), -1.0), r"\(x \+ 1\) / 2"),
        (np.full((2, 8, 8, 1), np.nan), "finite"),
        ("not images", "images must be an array"),
    ],
)
def test_image_grid_rejects_bad_images(tmp_path, images, match):
    with pytest.raises(ValueError, match=match):
        plot.image_grid(images, tmp_path / "bad.png")
    assert not (tmp_path / "bad.png").exists()


def test_image_grid_rejects_bad_layout(tmp_path):
    images = np.zeros((2, 8, 8, 1), np.float32)
    with pytest.raises(ValueError, match="columns must be a positive int, got 0"):
        plot.image_grid(images, tmp_path / "a.png", columns=0)
    with pytest.raises(ValueError, match="scale must be a positive int, got 1.5"):
        plot.image_grid(images, tmp_path / "a.png", scale=1.5)


class _History:
    """Stands for the keras.callbacks.History returned by fit."""

    def __init__(self, history):
        self.history = history


@pytest.mark.parametrize("wrap", [dict, _History])
def test_loss_curves_writes_a_png(tmp_path, wrap):
    history = {
        "d_loss": [1.4, 1.3, 1.35],
        "g_loss": [0.7, float("nan"), 0.9],
        "val_d_loss": [1.5, 1.4, 1.3],
        "note": ["a", "b", "c"],  # Not numeric: left out.
    }
    path = plot.loss_curves(wrap(history), tmp_path / "losses.png", title="GAN")
    png = mpimg.imread(path)
    assert png.shape[:2] == (500, 800)
    # Something is drawn: not a blank white canvas.
    assert png[..., :3].min() < 0.5


def test_loss_curves_puts_losses_outputs_and_each_score_on_its_own_panel(tmp_path):
    nan = float("nan")
    history = {
        "d_loss": [1.4, 1.3, 1.35, 1.3],
        "g_loss": [0.7, 0.8, 0.9, 0.9],
        "gradient_penalty": [0.1, 0.2, 0.1, 0.1],
        "d_real": [0.1, 0.2, 0.3, 0.3],
        "d_fake": [-0.1, -0.2, -0.3, -0.3],
        "fid": [2000.0, nan, nan, 60.0],
        "fid_floor": [20.0, nan, nan, 20.0],
        "kid": [9000.0, nan, nan, 300.0],
        "kid_std": [400.0, nan, nan, 200.0],
        "kid_floor": [-5.0, nan, nan, -5.0],
        "precision": [0.0, nan, nan, 0.5],
        "precision_floor": [0.9, nan, nan, 0.9],
        "recall": [0.0, nan, nan, 0.8],
        "val_psnr": [20.0, 21.0, 22.0, 23.0],
    }
    groups = {name: plot.metric_group(name) for name in history}
    assert {name for name, group in groups.items() if group == "losses"} == {
        "d_loss",
        "g_loss",
        "gradient_penalty",
    }
    assert groups["d_real"] == groups["d_fake"] == "discriminator outputs"
    assert groups["fid_floor"] == "fid" and groups["kid_std"] == groups["kid_floor"] == "kid"
    assert groups["precision_floor"] == groups["recall"] == "precision and recall"
    assert groups["val_psnr"] == "psnr"
    # Six panels, two a row: three rows of PANEL_ROW_HEIGHT pixels.
    assert plot.loss_curves_size(history) == (3 * plot.PANEL_ROW_HEIGHT, plot.FIGURE_WIDTH)
    png = mpimg.imread(plot.loss_curves(history, tmp_path / "losses.png"))
    assert png.shape[:2] == plot.loss_curves_size(history)
    # A one-panel history keeps the least size.
    assert plot.loss_curves_size({"loss": [1.0]}) == (500, 800)


def test_loss_curves_rejects_empty_or_wrong_history(tmp_path):
    with pytest.raises(ValueError, match="holds no numeric metric values"):
        plot.loss_curves({}, tmp_path / "l.png")
    with pytest.raises(ValueError, match="history must be a keras.callbacks.History or a dict"):
        plot.loss_curves([1, 2, 3], tmp_path / "l.png")
