"""An independent judge of generated digits: the Fréchet distance in a small classifier's features.

Independent of tfgen's metrics and data code: scikit-learn's 8x8 digits (values 0..16 -> [0,
1]), a random split (seed `JUDGE_SEED`: `HELD_OUT` digits held out, the rest train), a
scikit-learn `MLPClassifier` with two ReLU hidden layers trained on the train part; the
features are the second hidden layer before its ReLU (full rank, so the covariance is not
singular). A set of images is judged by the Fréchet distance (Heusel et al. 2017)

    d² = |mu_a - mu_b|² + Tr(S_a + S_b - 2 (S_a S_b)^(1/2))

between its features and those of the judge's training digits (`_common.frechet_distance`: the
square root taken by `scipy.linalg.sqrtm`, its real part). Images larger than 8x8 (16x16,
32x32) are averaged over blocks down to 8x8 first, and are compared with the training digits
taken the same way (enlarged as tfgen.data enlarges them: antialiased bilinear, then averaged
back), so that the round trip's blur is not counted against a generator. Compare sets of equal
size (the distance is biased by the count), the held-out real digits giving the floor:
`judge.floor(n, side)`.
"""

import _common
import numpy as np
from sklearn.datasets import load_digits
from sklearn.neural_network import MLPClassifier

#: Seed of the judge's split and of its classifier's training.
JUDGE_SEED = 12345
#: Real digits the judge holds out: the floor is computed with them.
HELD_OUT = 500
#: Training iterations (epochs) of the judge's classifier.
MAX_ITER = 400


def to_judge_input(images):
    """(n, side, side[, 1]) images in [0, 1], side a multiple of 8 -> (n, 64) by block means."""
    images = np.asarray(images, np.float64)
    if images.ndim == 4:
        if images.shape[-1] != 1:
            raise ValueError(f"images must have one channel, got shape {images.shape}")
        images = images[..., 0]
    if images.ndim != 3 or images.shape[1] != images.shape[2] or images.shape[1] % 8:
        raise ValueError(f"images must be (n, side, side) with side 8k, got {images.shape}")
    if images.min() < -1e-3 or images.max() > 1 + 1e-3:
        raise ValueError("images must lie in [0, 1]")
    n, side = images.shape[0], images.shape[1]
    block = side // 8
    return images.reshape(n, 8, block, 8, block).mean(axis=(2, 4)).reshape(n, 64)


class DigitsJudge:
    """Trains the judge once; `distance(images)` and `floor(n, side)` score image sets."""

    def __init__(self, seed=JUDGE_SEED, held_out=HELD_OUT, max_iter=MAX_ITER):
        digits = load_digits()
        pixels = digits.images.reshape(-1, 64) / 16.0
        order = np.random.default_rng(seed).permutation(len(pixels))
        self.test_images = digits.images[order[:held_out]] / 16.0
        train = order[held_out:]
        self.classifier = MLPClassifier((128, 64), max_iter=max_iter, random_state=seed)
        self.classifier.fit(pixels[train], digits.target[train])
        self.accuracy = float(
            self.classifier.score(pixels[order[:held_out]], digits.target[order[:held_out]])
        )
        self.train_images = digits.images[train] / 16.0
        self._references = {}

    def features(self, pixels):
        """The second hidden layer's pre-activations of (n, 64) pixels in [0, 1]."""
        weights, biases = self.classifier.coefs_, self.classifier.intercepts_
        hidden = np.maximum(pixels @ weights[0] + biases[0], 0.0)
        return hidden @ weights[1] + biases[1]

    def reference(self, side):
        """Features of the judge's training digits at `side` (enlarged, then block-averaged)."""
        if side not in self._references:
            images = enlarge(self.train_images, side)
            self._references[side] = self.features(to_judge_input(images))
        return self._references[side]

    def distance(self, images):
        """Fréchet distance of `images` (in [0, 1]) to the judge's training digits."""
        pixels = to_judge_input(images)
        return _common.frechet_distance(self.features(pixels), self.reference(np.shape(images)[1]))

    def floor(self, n=HELD_OUT, side=8):
        """The distance of `n` held-out real digits, enlarged to `side` as tfgen.data does."""
        if n > len(self.test_images):
            raise ValueError(f"n must be at most {len(self.test_images)}, got {n}")
        return self.distance(enlarge(self.test_images[:n], side))


def enlarge(images, side):
    """(n, 8, 8) images in [0, 1] -> (n, side, side, 1), antialiased bilinear as tfgen.data."""
    images = np.asarray(images, np.float32)[..., None]
    if side == 8:
        return images
    import tensorflow as tf

    resized = tf.image.resize(images, (side, side), "bilinear", antialias=True).numpy()
    return np.clip(resized, 0.0, 1.0)
