"""The bundled photographs as a restoration dataset: random crops of whole photographs.

`tfgen.data.load("photos", ...)` (also "photos/crop32", "photos/crop128", any "photos/crop<N>",
and "photos/crop<N>-<M>", crops of random sides) reads here. Every photograph that the
installed packages ship is used, and a photograph is in one split only, so a model is always
scored on photographs it never saw:

================= ======================================== =========
photograph        shipped by                               split
================= ======================================== =========
china             scikit-learn (`load_sample_images`)      train
flower            scikit-learn                             train
astronaut         scikit-image (`skimage.data`)            train
rocket            scikit-image                             train
motorcycle_left   scikit-image (`stereo_motorcycle`, left)  train
motorcycle_right  scikit-image (`stereo_motorcycle`, right) train
hubble_deep_field scikit-image                             train
grace_hopper      matplotlib (`cbook.get_sample_data`)     test
coffee            scikit-image                             test
chelsea           scikit-image                             test
================= ======================================== =========

(`HELD_OUT` is the test column; `held_out=` names others.) matplotlib ships no other colour
photograph (its other sample images are clip art and scientific data); scikit-image's
microscopy, retina and grey images are left out, being no photographs of everyday scenes. The
two motorcycle views are a stereo pair, nearly the same picture, so they share a split.

`split="train"`: every epoch draws `TRAIN_CROPS_PER_EPOCH` new crops, each from a photograph
chosen uniformly, at a uniform position, flipped left-right with probability 1/2 and turned by
a uniform multiple of 90 degrees (`augment`): reproducible for a given seed, different at every
epoch. `split="test"`: the non-overlapping crops tiling each held-out photograph from its top-left
corner, in order, always the same. Crops are then resized to `image_size` like any image of
`tfgen.data.load` (antialiased), e.g. 64x64 crops to 32x32.

Scale augmentation, "photos/crop<N>-<M>" (N <= M): each training crop has a random side drawn
log-uniformly from [N, M] (rounded) and is shrunk (antialiased, rounded to 8 bits) to N, the
side of the test tiles, so no crop is ever enlarged (which would blur it); "photos/crop64-128"
trains on crops of 64 to 128 pixels brought to 64 and tests on the 64x64 tiles of "photos". A
network then sees the photographs at several scales: many more distinct textures than seven
photographs hold at one.

scikit-image is a dependency of tfgen (not an extra): the split must hold the same photographs
on every installation, or a benchmark on held-out photographs would change with what else
happens to be installed.
"""

from __future__ import annotations

import functools
import re

import numpy as np
import tensorflow as tf

__all__ = [
    "CROP_SIZE",
    "HELD_OUT",
    "PHOTOGRAPHS",
    "TRAIN_CROPS_PER_EPOCH",
    "augment",
    "crop_range_of",
    "crop_size_of",
    "is_photos",
    "photographs",
    "split_names",
    "tiles",
]

#: Every bundled photograph, by name.
PHOTOGRAPHS = (
    "china",
    "flower",
    "astronaut",
    "rocket",
    "motorcycle_left",
    "motorcycle_right",
    "hubble_deep_field",
    "grace_hopper",
    "coffee",
    "chelsea",
)
#: The photographs of the test split by default; never in the training split.
HELD_OUT = ("grace_hopper", "coffee", "chelsea")
#: Crop side of "photos"; "photos/crop<N>" gives N.
CROP_SIZE = 64
#: Random crops in one training epoch.
TRAIN_CROPS_PER_EPOCH = 2400
_NAME = re.compile(r"photos(?:/crop(\d+)(?:-(\d+))?)?")


def is_photos(name) -> bool:
    """Whether `name` is the bundled photographs ("photos" or "photos/crop<N>")."""
    return isinstance(name, str) and _NAME.fullmatch(name) is not None


def crop_size_of(name: str) -> int:
    """The crop side of "photos" (64), "photos/crop<N>" and "photos/crop<N>-<M>" (N, at
    least 8)."""
    return crop_range_of(name)[0]


def crop_range_of(name: str) -> tuple[int, int]:
    """The (smallest, largest) side of the training crops of a "photos" name: (N, N) for
    "photos/crop<N>", (N, M) for "photos/crop<N>-<M>", (64, 64) for "photos"."""
    match = _NAME.fullmatch(name)
    low = int(match.group(1)) if match and match.group(1) else CROP_SIZE
    high = int(match.group(2)) if match and match.group(2) else low
    if low < 8:
        raise ValueError(f"name {name!r}: the crop side must be at least 8 pixels, got {low}")
    if high < low:
        raise ValueError(f"name {name!r}: a crop range <N>-<M> needs N <= M, got {low}-{high}")
    return low, high


@functools.cache
def photographs() -> dict[str, np.ndarray]:
    """Every bundled photograph (`PHOTOGRAPHS`) as a uint8 array (height, width, 3)."""
    import skimage.data
    from matplotlib import cbook
    from PIL import Image
    from sklearn.datasets import load_sample_images

    found = {}
    sample = load_sample_images()
    for filename, array in zip(sample.filenames, sample.images, strict=True):
        stem = filename.replace("\\", "/").rsplit("/", 1)[-1].rsplit(".", 1)[0]
        found[stem] = array
    with Image.open(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)) as image:
        found["grace_hopper"] = np.asarray(image.convert("RGB"))
    left, right, _ = skimage.data.stereo_motorcycle()
    found.update(motorcycle_left=left, motorcycle_right=right)
    for name in ("astronaut", "rocket", "hubble_deep_field", "coffee", "chelsea"):
        found[name] = getattr(skimage.data, name)()
    return {name: np.ascontiguousarray(found[name][..., :3], np.uint8) for name in PHOTOGRAPHS}


def split_names(split: str, held_out=None) -> tuple[str, ...]:
    """The photographs of `split` ("train" or "test") when `held_out` (default `HELD_OUT`)
    are held out.

    Raises:
        ValueError: an unknown split, or `held_out` that is not a non-empty list of known
            photograph names leaving at least one for training.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test' for the bundled photos, got {split!r}")
    held_out = HELD_OUT if held_out is None else held_out
    if isinstance(held_out, str) or not isinstance(held_out, list | tuple) or not held_out:
        raise ValueError(
            f"held_out must be a non-empty list of photograph names from {PHOTOGRAPHS}, "
            f"got {held_out!r}"
        )
    unknown = [name for name in held_out if name not in PHOTOGRAPHS]
    if unknown:
        raise ValueError(
            f"held_out names photographs that do not exist: {unknown}; the bundled photographs "
            f"are {PHOTOGRAPHS}"
        )
    train = tuple(name for name in PHOTOGRAPHS if name not in held_out)
    if not train:
        raise ValueError("held_out holds every photograph: none is left for training")
    return train if split == "train" else tuple(n for n in PHOTOGRAPHS if n in held_out)


def _check_crop(arrays, names, crop, name):
    for photo, array in zip(names, arrays, strict=True):
        if min(array.shape[:2]) < crop:
            raise ValueError(
                f"name {name!r} asks for {crop}x{crop} crops, larger than the photograph "
                f"{photo} ({array.shape[0]}x{array.shape[1]}): use a crop side of at most "
                f"{min(min(a.shape[:2]) for a in arrays)}"
            )


def tiles(array: np.ndarray, crop: int) -> np.ndarray:
    """The non-overlapping `crop` x `crop` tiles of `array`, row by row from the top left."""
    rows, cols = array.shape[0] // crop, array.shape[1] // crop
    tiled = array[: rows * crop, : cols * crop].reshape(rows, crop, cols, crop, -1)
    return tiled.transpose(0, 2, 1, 3, 4).reshape(rows * cols, crop, crop, array.shape[-1])


def augment(image, seed):
    """A uniform flip (left-right, probability 1/2) and a turn by k * 90 degrees, k uniform in
    0..3, of one square image; with the flip these are the 8 symmetries of the square."""
    draws = tf.random.stateless_uniform([2], seed, maxval=4, dtype=tf.int32)
    image = tf.cond(draws[0] >= 2, lambda: tf.image.flip_left_right(image), lambda: image)
    return tf.image.rot90(image, draws[1])


def crops(name, split, seed, held_out=None) -> tuple[tf.data.Dataset, int, int]:
    """Unbatched uint8 crops of the photos of `split`: (dataset, crops per epoch, crop side).

    Training crops are random per epoch (reproducible from `seed`); test crops are the tiles
    of the held-out photographs, in order.
    """
    low, high = crop_range_of(name)
    crop = low  # the test tiles' side, and every training crop's after shrinking
    names = split_names(split, held_out)
    arrays = [photographs()[n] for n in names]
    _check_crop(arrays, names, crop if split == "test" else high, name)
    if split == "test":
        tiled = np.concatenate([tiles(array, crop) for array in arrays])
        return tf.data.Dataset.from_tensor_slices(tiled), len(tiled), crop
    # One padded tensor holds every photograph; a crop never reaches a photograph's padding.
    height = max(a.shape[0] for a in arrays)
    width = max(a.shape[1] for a in arrays)
    stack = np.zeros((len(arrays), height, width, 3), np.uint8)
    for i, array in enumerate(arrays):
        stack[i, : array.shape[0], : array.shape[1]] = array
    stack = tf.constant(stack)
    sides = tf.constant([a.shape[:2] for a in arrays], tf.int32)
    count = len(arrays)

    def draw(counter):
        # A stateless seed per crop: from the per-epoch random stream, so every epoch differs.
        crop_seed = tf.stack([counter, tf.constant(0, tf.int64)])
        pick = tf.random.stateless_uniform([], crop_seed, maxval=count, dtype=tf.int32)
        side = crop
        if low != high:  # log-uniform in [low, high]
            draw = tf.random.stateless_uniform(
                [], tf.random.experimental.stateless_fold_in(crop_seed, 3)
            )
            side = tf.cast(tf.round(low * (high / low) ** draw), tf.int32)
        limits = sides[pick] - side + 1
        where = (
            tf.random.stateless_uniform(
                [2],
                tf.random.experimental.stateless_fold_in(crop_seed, 1),
                maxval=2**30,
                dtype=tf.int32,
            )
            % limits
        )
        image = tf.slice(stack[pick], [where[0], where[1], 0], [side, side, 3])
        if low != high:  # shrunk to the side of a test tile
            # As `tfgen.images.resize` (not imported: it reads this module for `photo:` names).
            resized = tf.image.resize(tf.cast(image, tf.float32), (crop, crop), antialias=True)
            image = tf.cast(tf.clip_by_value(tf.round(resized), 0.0, 255.0), tf.uint8)
        image = tf.ensure_shape(image, [crop, crop, 3])
        return augment(image, tf.random.experimental.stateless_fold_in(crop_seed, 2))

    stream_seed = 0 if seed is None else int(seed)
    counters = tf.data.Dataset.random(seed=stream_seed, rerandomize_each_iteration=True)
    dataset = counters.take(TRAIN_CROPS_PER_EPOCH).map(draw, num_parallel_calls=tf.data.AUTOTUNE)
    return dataset, TRAIN_CROPS_PER_EPOCH, crop
