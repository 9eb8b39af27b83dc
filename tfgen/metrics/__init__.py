"""Evaluation of generators: FID, KID, precision/recall, SWD and the Inception score.

Each metric is a `keras.metrics.Metric` fed with `update_state(real, generated)` (images in
[-1, 1], or features with the identity extractor) and read with `result()`:

    import tfgen.metrics as tm
    features = tm.digits_features()                  # shipped with tfgen: nothing downloaded
    fid = tm.FrechetDistance(features)
    for real, generated in batches:
        fid.update_state(real, generated)
    print(float(fid.result()))

    tm.evaluate_generator("runs/gan/gan.keras", "digits")   # {"fid": .., "kid": .., ...}

- `FrechetDistance`: FID (Heusel et al. 2017) from float64 running sums, constant memory, summed
  across replicas; the matrix square root as TTUR's reference code takes it.
- `KernelDistance`: KID (Bińkowski et al. 2018), unbiased polynomial-kernel MMD over subsets.
- `PrecisionRecall`: improved precision and recall (Kynkäänniemi et al. 2019).
- `SlicedWasserstein`: ProGAN's Laplacian-pyramid patch SWD on raw pixels (Karras et al. 2018).
- `InceptionScore`: Salimans et al. 2016, with splits.
- `reference_statistics`: the real side computed once and saved (.npz) for FID and KID.
- Feature extractors (`tfgen.metrics.features`): `digits_features`, `digits_classifier`,
  `inception_pool3` (the reference FID network from a local file), `inception_v3` (Keras'
  weights from a local file, not comparable with published FIDs), any Keras model or callable.
"""

from tfgen.metrics.evaluation import default_metrics, evaluate_generator, score
from tfgen.metrics.features import (
    FeatureExtractor,
    digits_classifier,
    digits_features,
    feature_extractor,
    inception_pool3,
    inception_v3,
)
from tfgen.metrics.frechet import FrechetDistance, frechet_distance
from tfgen.metrics.inception_score import InceptionScore, inception_score
from tfgen.metrics.kernel import KernelDistance, kernel_distance
from tfgen.metrics.precision_recall import PrecisionRecall, precision_recall
from tfgen.metrics.sliced_wasserstein import SlicedWasserstein, sliced_wasserstein
from tfgen.metrics.statistics import load_reference_statistics, reference_statistics

__all__ = [
    "FeatureExtractor",
    "FrechetDistance",
    "InceptionScore",
    "KernelDistance",
    "PrecisionRecall",
    "SlicedWasserstein",
    "default_metrics",
    "digits_classifier",
    "digits_features",
    "evaluate_generator",
    "feature_extractor",
    "frechet_distance",
    "inception_pool3",
    "inception_score",
    "inception_v3",
    "kernel_distance",
    "load_reference_statistics",
    "precision_recall",
    "reference_statistics",
    "score",
    "sliced_wasserstein",
]
