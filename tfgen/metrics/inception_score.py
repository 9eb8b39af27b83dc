"""Inception score (Salimans et al. 2016, https://arxiv.org/abs/1606.03498).

    IS = exp(E_x KL(p(y|x) || p(y)))

from a classifier's class probabilities p(y|x) of generated images, p(y) their mean; computed
on `splits` equal parts of the samples, reported as mean and standard deviation over the parts,
as the authors' code does. High when each image is classified confidently and the classes are
diverse; it ignores real data, so it cannot tell memorised training images from new ones.
"""

from __future__ import annotations

import numpy as np

from tfgen import _checks as checks
from tfgen.metrics.features import as_feature_extractor, check_features
from tfgen.metrics.samples import SampleMetric

__all__ = ["InceptionScore", "inception_score"]

#: Rows of probabilities must sum to 1 within this.
SUM_TOLERANCE = 1e-3


def inception_score(probabilities, splits=10):
    """(mean, std) of the score over `splits` parts of (n, classes) class probabilities."""
    probabilities = np.asarray(probabilities, np.float64)
    if probabilities.ndim != 2 or len(probabilities) < splits:
        raise ValueError(
            f"probabilities must be (n, classes) with n >= splits = {splits}, got shape "
            f"{probabilities.shape}"
        )
    if np.any(probabilities < 0) or not np.allclose(probabilities.sum(1), 1, atol=SUM_TOLERANCE):
        raise ValueError(
            "probabilities must be non-negative rows that sum to 1 (a softmax output); for "
            "logits use InceptionScore(..., from_logits=True)"
        )
    scores = []
    n = len(probabilities)
    for index in range(splits):
        part = probabilities[index * n // splits : (index + 1) * n // splits]
        marginal = np.mean(part, axis=0, keepdims=True)
        # 0 log 0 = 0: classes a sample never takes contribute nothing.
        terms = np.where(part > 0, part * (np.log(np.maximum(part, 1e-300)) - np.log(marginal)), 0)
        scores.append(np.exp(np.mean(np.sum(terms, axis=1))))
    return float(np.mean(scores)), float(np.std(scores))


class InceptionScore(SampleMetric):
    """The Inception score of generated images; `result()` -> {name: mean, name_std: std}.

    `update_state(real, generated)` takes real images only for the common metric interface
    (they are ignored and may be None) and keeps the classifier's probabilities of `generated`.

    Args:
        classifier: Images in [-1, 1] -> class probabilities (or logits with `from_logits`):
            e.g. `tfgen.metrics.digits_classifier()`, or a Keras model or callable; None when
            the inputs are the probabilities already.
        splits: Parts the samples are split into. Defaults to `10`.
        from_logits: Apply a softmax to the classifier's outputs first. Defaults to `False`.
        name: Metric name. Defaults to `"inception_score"`.
    """

    def __init__(self, classifier, splits=10, from_logits=False, name="inception_score", **kw):
        super().__init__(name=name, **kw)
        self.splits = checks.positive_int(splits, "splits")
        self.classifier = as_feature_extractor(classifier)
        self.from_logits = bool(from_logits)

    def update_state(self, real, generated, sample_weight=None):
        """Keeps the class probabilities of a batch of generated images."""
        del real  # The score is a function of generated images alone.
        if sample_weight is not None:
            raise ValueError("InceptionScore does not take sample_weight; got one")
        if generated is None:
            raise ValueError("generated must be a batch of images, got None")
        self._keep("generated", check_features(self.classifier(generated), "probabilities"))

    def _compute(self):
        outputs = self._kept("generated").astype(np.float64)
        if self.from_logits:
            outputs = np.exp(outputs - outputs.max(axis=1, keepdims=True))
            outputs /= outputs.sum(axis=1, keepdims=True)
        mean, std = inception_score(outputs, self.splits)
        return {self.name: mean, f"{self.name}_std": std}

    def result(self):
        return self._numpy_result(self._compute, [self.name, f"{self.name}_std"])

    def get_config(self):
        return {**super().get_config(), "splits": self.splits, "from_logits": self.from_logits}
