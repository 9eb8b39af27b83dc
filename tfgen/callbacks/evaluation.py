"""`EvaluateGenerator`: the generator scored with `tfgen.metrics` during `fit`."""

from __future__ import annotations

import os

import keras
import tensorflow as tf

from tfgen import _checks as checks
from tfgen.callbacks._common import (
    is_chief,
    tensorboard_available,
)


class EvaluateGenerator(keras.callbacks.Callback):
    """Scores the generator with `tfgen.metrics` during `fit`, into the logs of the epoch.

    At the end of the first epoch of each `fit` call (so that `CSVLogger` learns the columns),
    of every `every_n_epochs`-th epoch and of the last one, it generates `num_samples` images
    from fixed latent codes with the model's sampling network (a GAN's moving-average generator
    when it has one), feeds them with up to as many real images to each metric, and adds the
    results to the epoch's logs (`fid`, `kid`, `kid_std`, `precision`, `recall`, `swd`, ...).
    Callbacks after it in the list see them: `History` (the returned history), `CSVLogger`
    ("NA" on epochs without evaluation), Keras' `TensorBoard` and thus tfgen's loss plot. With
    `tensorboard_dir` it also writes them itself, run "evaluation", step = epoch, each under
    its group of `tfgen.plot.metric_group` ("fid/fid", "fid/fid_floor", "precision and
    recall/recall").

    With `floor=True` every score comes with its floor, `<key>_floor`: the same metric of real
    images against real images at the same sample counts (`num_samples` against
    `num_samples`), the best a generator can score there; FID in particular is biased upwards
    by few samples. The first `num_samples` real images are then the reference of every
    evaluation and the next `num_samples` the floor's, computed once (so `real` must hold
    `2 * num_samples` images, else a `ValueError` at the first evaluation).

    Args:
        metrics: `tfgen.metrics` metrics (or any with `update_state(real, generated)`,
            `reset_state` and `result`), e.g. `tfgen.metrics.default_metrics()`.
        real: Real images in [-1, 1], an array (n, H, W, C) or a dataset of batches; None when
            every metric has reference statistics.
        every_n_epochs: Evaluate when the epoch number (from 1) is a multiple of this.
        num_samples: Generated images per evaluation, and the most real images used.
        batch_size: Images per generator call.
        seed: Seed of the latent codes, the same at every evaluation.
        tensorboard_dir: Optional TensorBoard log directory (needs the `tensorboard` package).
        floor: Also log each score's floor, real against real (see above).

    Attributes:
        evaluated: (epoch, {key: value}) of every evaluation so far.
        floor_results: {key: value} of real against real, after the first evaluation with
            `floor=True`; None otherwise.
    """

    def __init__(
        self,
        metrics,
        real,
        every_n_epochs=1,
        num_samples=1000,
        batch_size=250,
        seed=0,
        tensorboard_dir=None,
        floor=False,
    ):
        super().__init__()
        self.metrics = list(metrics)
        if not self.metrics:
            raise ValueError("metrics must be a non-empty list of metrics")
        self.real = real
        self.every_n_epochs = checks.positive_int(every_n_epochs, "every_n_epochs")
        self.num_samples = checks.integer(num_samples, "num_samples", minimum=2)
        self.batch_size = batch_size
        self.seed = checks.seed(seed, optional=False)
        self.tensorboard_dir = tensorboard_dir
        self.floor = checks.boolean(floor, "floor")
        if self.floor and real is None:
            raise ValueError("floor=True needs real images (real against real), got real=None")
        self.floor_results = None
        self._reference = real
        self.evaluated = []
        self._writer = None
        self._first_epoch = True

    def on_train_begin(self, logs=None):
        self._first_epoch = True
        if self.tensorboard_dir is not None and is_chief() and tensorboard_available():
            self._writer = tf.summary.create_file_writer(
                os.path.join(os.fspath(self.tensorboard_dir), "evaluation")
            )

    def on_epoch_end(self, epoch, logs=None):
        last = (self.params or {}).get("epochs")
        due = self._first_epoch or (epoch + 1) % self.every_n_epochs == 0 or epoch + 1 == last
        self._first_epoch = False
        if not due:
            return
        results = self.evaluate()
        self.evaluated.append((epoch + 1, results))
        if logs is not None:
            logs.update(results)
        if self._writer is not None:
            from tfgen.plot import metric_group

            with self._writer.as_default():
                for key, value in results.items():
                    tf.summary.scalar(f"{metric_group(key)}/{key}", value, step=epoch + 1)
            self._writer.flush()

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def evaluate(self):
        """Scores the model's sampling network now; returns {key: float}, floors beside."""
        from tfgen.metrics import evaluation

        if self.floor and self.floor_results is None:
            self._reference, others = evaluation.split_real(self.real, self.num_samples)
            self.floor_results = evaluation.real_floor(
                self.metrics, self._reference, others, self.batch_size
            )
        results = evaluation.score(
            self.metrics, self.model, self._reference, self.num_samples, self.batch_size, self.seed
        )
        if self.floor_results is None:
            return results
        return evaluation.with_floors(results, self.floor_results)
