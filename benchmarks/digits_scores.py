"""The bundled digits and the scores the GAN benchmarks give generated digits.

Scores are `tfgen.metrics.default_metrics` (FID, KID, precision/recall) in the shipped digits
classifier's features, of images in [-1, 1] against reference digits.
"""

import numpy as np

import tfgen.data
import tfgen.metrics


def digits(split, image_size):
    """All digits of `split` ("train" or "test") at `image_size`, in [-1, 1], in order."""
    batches = tfgen.data.load(
        "digits",
        split=split,
        image_size=image_size,
        batch_size=500,
        shuffle=False,
        drop_remainder=False,
    )
    return np.concatenate([np.asarray(batch) for batch in batches])


def scores(reference, images, extractor=None):
    """{fid, kid, kid_std, precision, recall} of `images` against `reference` (both [-1, 1])."""
    results = {}
    for metric in tfgen.metrics.default_metrics(extractor):
        metric.update_state(reference, images)
        results.update(tfgen.metrics.evaluation.results(metric))
    return results
