"""Offline tensorflow-datasets builders for the data that ships with scikit-learn and matplotlib.

Importing this module registers two tfds datasets, so that once `tfgen.data` is imported,
`tfds.load("tfgen_digits")` and `tfds.load("tfgen_photos")` work without any network access:

- `tfgen_digits`: the 1,797 real 8x8 handwritten digits of the UCI "Optical Recognition of
  Handwritten Digits" set, as shipped by `sklearn.datasets.load_digits`.
- `tfgen_photos`: square crops of the three real photographs that ship with installed packages
  (`china.jpg` and `flower.jpg` from `sklearn.datasets.load_sample_images`, and matplotlib's
  `grace_hopper.jpg`).

Preparing them reads only those installed files; the download manager is never used.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow_datasets as tfds

__all__ = [
    "PhotosConfig",
    "TfgenDigits",
    "TfgenPhotos",
    "digits_split_indices",
    "photo_arrays",
    "PHOTO_NAMES",
]

# Names of the bundled photographs, in the order of the `photo` class label.
PHOTO_NAMES = ("china", "flower", "grace_hopper")


def photo_arrays() -> dict[str, np.ndarray]:
    """Return the bundled photographs as uint8 arrays of shape (height, width, 3).

    china and flower (427x640) come from `sklearn.datasets.load_sample_images`, grace_hopper
    (600x512) from `matplotlib.cbook.get_sample_data`; all are decoded by Pillow.
    """
    from matplotlib import cbook
    from matplotlib import image as mpimg
    from sklearn.datasets import load_sample_images

    sample = load_sample_images()
    by_name = {}
    for filename, array in zip(sample.filenames, sample.images, strict=True):
        stem = filename.replace("\\", "/").rsplit("/", 1)[-1].rsplit(".", 1)[0]
        by_name[stem] = np.asarray(array, dtype=np.uint8)
    hopper = mpimg.imread(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
    by_name["grace_hopper"] = np.asarray(hopper, dtype=np.uint8)[..., :3]
    return {name: by_name[name] for name in PHOTO_NAMES}


#: Seed of the permutation that splits the bundled digits.
DIGITS_SPLIT_SEED = 0


def digits_split_indices(num_images=1797, num_test=297, seed=DIGITS_SPLIT_SEED):
    """{"train": indices, "test": indices} into scikit-learn's digits, a seeded random split.

    scikit-learn's order is not random: its contiguous blocks differ in distribution (in the
    digits classifier's features, the first 1,000 against the last 297 gave KID 437, against
    the next 297 KID 914, where two random samples of the set give about 0; BENCHMARKS.md).
    Both splits are in the permutation's order, so any prefix of a split read without shuffling
    is a random sample of it too.
    """
    order = np.random.default_rng(seed).permutation(num_images)
    return {"train": order[num_test:], "test": order[:num_test]}


class TfgenDigits(tfds.core.GeneratorBasedBuilder):
    """scikit-learn's 1,797 8x8 handwritten digits as a tfds dataset (no download).

    The source pixels are integers 0..16 (counts of set pixels in 4x4 blocks of a 32x32 bitmap);
    they are stored as uint8 `round(v * 255 / 16)`, so 0 -> 0 and 16 -> 255. Split: the first
    297 drawn at random (`digits_split_indices`, a fixed seed) are `test`, the other 1,500
    `train`, each in that random order (`index` is the position in scikit-learn's order, whose
    contiguous blocks differ, so that its last 297 were no fair held-out set).

    Reference: E. Alpaydin and C. Kaynak, "Optical Recognition of Handwritten Digits", UCI
    Machine Learning Repository, 1998.
    """

    VERSION = tfds.core.Version("2.0.0")
    RELEASE_NOTES = {
        "1.0.0": "Initial release.",
        "2.0.0": "The test split is drawn at random instead of the last 297 digits.",
    }
    # Preparing this dataset needs no network access.
    TFGEN_OFFLINE = True
    NUM_TEST = 297

    def _info(self) -> tfds.core.DatasetInfo:
        return tfds.core.DatasetInfo(
            builder=self,
            description=(
                "The 1,797 8x8 grey-level handwritten digits that ship with scikit-learn "
                "(sklearn.datasets.load_digits), values 0..16 scaled to 0..255."
            ),
            features=tfds.features.FeaturesDict(
                {
                    "image": tfds.features.Image(shape=(8, 8, 1)),
                    "label": tfds.features.ClassLabel(num_classes=10),
                    "index": np.int32,
                }
            ),
            supervised_keys=("image", "label"),
            homepage="https://archive.ics.uci.edu/dataset/80",
            citation=(
                "@misc{alpaydin1998digits, author={Alpaydin, E. and Kaynak, C.}, "
                "title={Optical Recognition of Handwritten Digits}, year={1998}, "
                "howpublished={UCI Machine Learning Repository}}"
            ),
            disable_shuffling=True,
        )

    def _split_generators(self, dl_manager):
        del dl_manager  # The data ships with scikit-learn.
        from sklearn.datasets import load_digits

        digits = load_digits()
        images = np.rint(digits.images * (255.0 / 16.0)).astype(np.uint8)[..., None]
        labels = digits.target.astype(np.int64)
        split = digits_split_indices(len(images), self.NUM_TEST)
        return {name: self._generate_examples(images, labels, split[name]) for name in split}

    def _generate_examples(self, images, labels, indices):
        # Keys are positions in the split, so that tfds (shuffling off) keeps the random order.
        for key, i in enumerate(indices):
            i = int(i)
            yield key, {"image": images[i], "label": int(labels[i]), "index": i}


@dataclasses.dataclass(eq=False)
class PhotosConfig(tfds.core.BuilderConfig):
    """Crop size and number of crops per photograph for `tfgen_photos`."""

    crop_size: int = 64
    train_crops: int = 800
    test_crops: int = 80


class TfgenPhotos(tfds.core.GeneratorBasedBuilder):
    """Random square crops of three real photographs (no download).

    Each photograph is split by columns: the left three quarters feed `train`, the right quarter
    feeds `test`, so the test crops contain pixels never seen in training (what a reconstruction
    benchmark needs). Crop positions are drawn uniformly inside each region with a fixed seed,
    `train_crops` (`test_crops`) per photograph; every example records its source `photo` and
    the `offset` (row, column) of its top-left corner in that photograph.

    Configs: `crop32`, `crop64` (default) and `crop128` give the crop side in pixels.
    """

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Initial release."}
    TFGEN_OFFLINE = True
    BUILDER_CONFIGS = [
        PhotosConfig(name="crop64", crop_size=64, train_crops=800, test_crops=80),
        PhotosConfig(name="crop32", crop_size=32, train_crops=1000, test_crops=100),
        PhotosConfig(name="crop128", crop_size=128, train_crops=400, test_crops=40),
    ]
    DEFAULT_BUILDER_CONFIG_NAME = "crop64"
    # Fraction of each photograph's width (from the left) used for the train split.
    TRAIN_FRACTION = 0.75
    SEED = 20240501

    def _info(self) -> tfds.core.DatasetInfo:
        size = self.builder_config.crop_size
        return tfds.core.DatasetInfo(
            builder=self,
            description=(
                "Random crops of china.jpg and flower.jpg (scikit-learn) and grace_hopper.jpg "
                "(matplotlib); train and test crops come from disjoint column ranges."
            ),
            features=tfds.features.FeaturesDict(
                {
                    "image": tfds.features.Image(shape=(size, size, 3)),
                    "photo": tfds.features.ClassLabel(names=list(PHOTO_NAMES)),
                    "offset": tfds.features.Tensor(shape=(2,), dtype=np.int32),
                }
            ),
            disable_shuffling=True,
        )

    @classmethod
    def regions(cls, width: int) -> dict[str, tuple[int, int]]:
        """Column range [start, stop) of each split in a photograph `width` pixels wide."""
        boundary = int(width * cls.TRAIN_FRACTION)
        return {"train": (0, boundary), "test": (boundary, width)}

    def _split_generators(self, dl_manager):
        del dl_manager  # The photographs ship with scikit-learn and matplotlib.
        photos = photo_arrays()
        cfg = self.builder_config
        return {
            split: self._generate_examples(photos, split, count)
            for split, count in (("train", cfg.train_crops), ("test", cfg.test_crops))
        }

    def _generate_examples(self, photos, split, count):
        size = self.builder_config.crop_size
        for p, name in enumerate(PHOTO_NAMES):
            photo = photos[name]
            height, width = photo.shape[:2]
            start, stop = self.regions(width)[split]
            if stop - start < size or height < size:
                raise ValueError(
                    f"crop_size={size} does not fit the {split} region of {name} "
                    f"({height}x{stop - start})"
                )
            # One generator per (photo, split, size): crops do not depend on generation order.
            rng = np.random.default_rng([self.SEED, p, size, int(split == "test")])
            rows = rng.integers(0, height - size + 1, size=count)
            cols = rng.integers(start, stop - size + 1, size=count)
            for i, (y, x) in enumerate(zip(rows, cols, strict=True)):
                yield (
                    p * 1_000_000 + i,
                    {
                        "image": photo[y : y + size, x : x + size],
                        "photo": p,
                        "offset": np.array([y, x], dtype=np.int32),
                    },
                )
