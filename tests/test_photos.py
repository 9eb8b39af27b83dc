"""The bundled photographs: which photograph is in which split, random crops, bad input."""

import re

import numpy as np
import pytest
import skimage.data
from matplotlib import cbook
from PIL import Image
from sklearn.datasets import load_sample_images

import tfgen.data
from tfgen.data import photos


def _independent_photographs():
    """The photographs read without tfgen: scikit-learn, Pillow and scikit-image directly."""
    sample = load_sample_images()
    found = {
        f.replace("\\", "/").rsplit("/", 1)[-1][:-4]: im
        for f, im in zip(sample.filenames, sample.images, strict=True)
    }
    with Image.open(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)) as image:
        found["grace_hopper"] = np.asarray(image.convert("RGB"))
    found["motorcycle_left"], found["motorcycle_right"], _ = skimage.data.stereo_motorcycle()
    for name in ("astronaut", "rocket", "hubble_deep_field", "coffee", "chelsea"):
        found[name] = getattr(skimage.data, name)()
    return found


def test_the_docstring_table_is_the_split():
    rows = re.findall(r"^(\w+) +.+ (train|test)$", photos.__doc__, flags=re.MULTILINE)
    table = {split: tuple(name for name, s in rows if s == split) for split in ("train", "test")}
    assert table["train"] == photos.split_names("train")
    assert table["test"] == photos.split_names("test") == photos.HELD_OUT
    assert set(table["train"]) | set(table["test"]) == set(photos.PHOTOGRAPHS)
    assert not set(table["train"]) & set(table["test"])
    assert set(photos.HELD_OUT) == {"grace_hopper", "coffee", "chelsea"}


def test_photographs_are_the_shipped_files():
    expected = _independent_photographs()
    for name, array in photos.photographs().items():
        np.testing.assert_array_equal(array, expected[name][..., :3])


def test_test_split_is_the_tiles_of_the_held_out_photographs():
    expected = _independent_photographs()
    loaded = np.concatenate(
        [
            batch.numpy()
            for batch in tfgen.data.load(
                "photos/crop32",
                split="test",
                batch_size=100,
                shuffle=False,
                drop_remainder=False,
                value_range=(0, 255),
            )
        ]
    )
    tiles = []
    for name in photos.HELD_OUT:
        image = expected[name]
        for y in range(0, image.shape[0] - 31, 32):
            for x in range(0, image.shape[1] - 31, 32):
                tiles.append(image[y : y + 32, x : x + 32])
    np.testing.assert_array_equal(np.rint(loaded), np.stack(tiles))


def _find(photo, crop):
    """Positions (y, x) where `crop` lies in `photo` unchanged, by narrowing down candidates."""
    side = crop.shape[0]
    ys, xs = np.nonzero(
        np.all(
            photo[: photo.shape[0] - side + 1, : photo.shape[1] - side + 1] == crop[0, 0], axis=-1
        )
    )
    for dy, dx in ((side - 1, side - 1), (0, side - 1), (side // 2, 3), (side - 1, 0)):
        keep = np.all(photo[ys + dy, xs + dx] == crop[dy, dx], axis=-1)
        ys, xs = ys[keep], xs[keep]
    return [
        (y, x)
        for y, x in zip(ys, xs, strict=True)
        if np.array_equal(photo[y : y + side, x : x + side], crop)
    ]


def test_training_crops_come_from_training_photographs_flipped_and_turned():
    expected = _independent_photographs()
    dataset = tfgen.data.load("photos/crop32", batch_size=24, seed=3, value_range=(0, 255))
    first, second = (np.rint(next(iter(dataset))).astype(np.uint8) for _ in range(2))
    assert not np.array_equal(first, second)  # new crops every epoch
    again = np.rint(
        next(iter(tfgen.data.load("photos/crop32", batch_size=24, seed=3, value_range=(0, 255))))
    ).astype(np.uint8)
    np.testing.assert_array_equal(first, again)  # reproducible from the seed
    symmetries, sources = set(), set()
    for crop in first:
        found = []
        for flip in (False, True):
            for turns in range(4):
                # Undo the augmentation: turn back, then flip back.
                candidate = np.rot90(crop, -turns)
                candidate = candidate[:, ::-1] if flip else candidate
                for name in photos.PHOTOGRAPHS:
                    if _find(expected[name], np.ascontiguousarray(candidate)):
                        found.append((name, flip, turns))
        assert found, "a training crop is no window of any photograph"
        assert all(name in photos.split_names("train") for name, _, _ in found)
        sources.add(found[0][0])
        symmetries.add(found[0][1:])
    assert len(sources) >= 3 and len(symmetries) >= 3


def test_a_crop_range_draws_log_uniform_sides_shrunk_to_its_smallest(monkeypatch):
    # Ramp "photographs" (red = row, green = column): a window of side s shrunk to 16 pixels
    # spans s / 16 rows of the ramp per pixel, so each crop tells its side.
    rows, cols = np.mgrid[:200, :240]
    ramp = np.stack([rows, cols, np.full_like(rows, 128)], axis=-1).astype(np.uint8)
    monkeypatch.setattr(photos, "photographs", lambda: dict.fromkeys(photos.PHOTOGRAPHS, ramp))
    assert photos.crop_range_of("photos/crop16-64") == (16, 64)
    assert photos.crop_size_of("photos/crop16-64") == 16
    dataset = tfgen.data.load("photos/crop16-64", batch_size=400, seed=5, value_range=(0, 255))
    crops = np.rint(next(iter(dataset)))
    assert crops.shape == (400, 16, 16, 3)
    inner = crops[:, 2:14, 2:14]
    spread = inner[..., :2].max(axis=(1, 2)) - inner[..., :2].min(axis=(1, 2))
    sides = spread.max(axis=1) * 16 / 11  # the interior spans 11 output pixels
    assert np.all(sides > 16 - 2) and np.all(sides < 64 + 2)
    # Log-uniform: log sides have mean log 32 (uniform sides would give log 36.6) and fill the
    # range's two halves alike.
    assert abs(np.mean(np.log(sides)) - np.log(32)) < 0.07
    assert 0.4 < np.mean(sides < 32) < 0.6 and np.mean(sides < 20) > 0.05


def test_a_crop_range_tests_on_the_tiles_of_its_smallest_side():
    def load(name):
        dataset = tfgen.data.load(name, split="test", batch_size=200, shuffle=False)
        return next(iter(dataset)).numpy()

    np.testing.assert_array_equal(load("photos/crop32-64"), load("photos/crop32"))


def test_named_held_out_photographs_leave_the_training_split():
    assert photos.split_names("test", ["china"]) == ("china",)
    assert "china" not in photos.split_names("train", ["china"])
    batch = next(iter(tfgen.data.load("photos", split="test", held_out=["china"], batch_size=8)))
    assert batch.shape == (8, 64, 64, 3)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(held_out=["moon"]), r"held_out names photographs that do not exist: \['moon'\]"),
        (dict(held_out="coffee"), "held_out must be a non-empty list"),
        (dict(held_out=list(photos.PHOTOGRAPHS)), "held_out holds every photograph"),
        (dict(name="photos/crop430"), r"name 'photos/crop430' asks for 430x430 crops"),
        (dict(name="photos/crop4"), "at least 8 pixels"),
        (dict(name="photos/crop64-32"), "needs N <= M, got 64-32"),
        (dict(name="photos/crop32-430"), r"name 'photos/crop32-430' asks for 430x430 crops"),
        (dict(name="digits", held_out=["china"]), "held_out is for the bundled 'photos' only"),
        (dict(split="validation"), "split must be 'train' or 'test'"),
    ],
)
def test_bad_photos_arguments(kwargs, message):
    kwargs = {"name": "photos", **kwargs}
    with pytest.raises(ValueError, match=message):
        tfgen.data.load(kwargs.pop("name"), batch_size=4, **kwargs)
