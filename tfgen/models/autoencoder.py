"""Reconstruction models: an encoder and a separate decoder trained with `model.fit`."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from tfgen import _checks as checks
from tfgen import corruptions, distribute
from tfgen.losses import (
    RECONSTRUCTION_LOSSES,
    check_reconstruction_loss,
    kl_divergence,
    psnr,
    reconstruction_loss,
    ssim,
)
from tfgen.models import _base, _images
from tfgen.models._autoencoder_checks import (
    _check_corruption,
    _check_networks,
)
from tfgen.models._base import mean as _mean
from tfgen.models._pipeline_corruption import (
    _CORRUPTION_STREAM,
    _SAMPLING_STREAM,
    _STREAMS_PER_STEP,
    PipelineCorruption,
)
from tfgen.optimizers import Adam
from tfgen.optimizers.adam import DEFAULT_LEARNING_RATE  # Kingma & Ba's 1e-3, public here too

__all__ = [
    "BLIND_SPOT_FRACTION",
    "DEFAULT_LEARNING_RATE",
    "MAX_PSNR",
    "OBJECTIVES",
    "RECONSTRUCTION_LOSSES",
    "VAE",
    "Autoencoder",
    "default_optimizer",
    "kl_divergence",
    "psnr",
    "reconstruction_loss",
    "ssim",
]

#: What a model learns from: "supervised" (clean targets) or "blind_spot" (noisy images only).
OBJECTIVES = ("supervised", "blind_spot")
#: The "psnr" metric of an example, in dB, at most: an exact reconstruction scores this.
MAX_PSNR = 100.0
#: Share of the pixels hidden from the network at each step of the blind-spot objective.
BLIND_SPOT_FRACTION = 1.0 / 16.0


def default_optimizer():
    """tfgen `Adam(1e-3)`, the learning rate of Kingma & Ba (2015)."""
    return Adam(learning_rate=DEFAULT_LEARNING_RATE)


@keras.saving.register_keras_serializable(package="tfgen")
class Autoencoder(PipelineCorruption, _base.ImageModel):
    """An encoder and a decoder trained with `model.fit` to restore images.

    `fit` takes batches of clean images in [-1, 1] (or `(images, labels)` pairs; labels are
    ignored). Each step corrupts the batch with `corruption`, encodes and decodes it, and
    minimises the reconstruction `loss` against the clean images:

        loss_i = L(x_i, D(E(c(x_i))))                      (plain, denoising or inpainting)

    With `variational=True` (Kingma & Welling 2014, "Auto-Encoding Variational Bayes") the
    encoder returns a Gaussian posterior ``q(z|x) = N(mu, diag(exp(lv)))``, the code is drawn by
    reparameterisation ``z = mu + exp(lv / 2) * eps``, eps ~ N(0, I), and

        loss_i = L(x_i, D(z_i)) + kl_weight * KL(q(z|x_i) || N(0, I)) / P

    with ``KL = 0.5 * sum(mu^2 + exp(lv) - lv - 1)`` and P the number of values in an image
    (H * W * C): L is a mean over pixels, so with kl_weight=1 this is the negative evidence
    lower bound divided by P for the likelihood ``p(x|z) ~ exp(-P * L)`` (Laplace for "l1",
    Gaussian for "l2"); kl_weight plays the role of beta in beta-VAE (Higgins et al. 2017).

    `autoencoder(images)` is deterministic: it encodes without corruption (the posterior mean
    when variational) and decodes; images in [-1, 1] give reconstructions in [-1, 1] for a
    tanh decoder. The decoder is a `keras.Model` of its own and can be saved or exported alone.

    Metrics, reported by `fit` and `evaluate` on the clean targets: "loss", "psnr" and "ssim"
    (dB and SSIM of the reconstructions on [0, 1], see `psnr` and `ssim`; an example's PSNR at
    most `MAX_PSNR`), plus "kl" (mean KL per example) when variational. `evaluate` corrupts its
    inputs as training does, with its own seeds that restart at every call, so it measures
    restoration and repeats exactly.

    Under any `tf.distribute` strategy create the model inside `strategy.scope()`. Losses are
    averaged over the global batch and every random draw (corruption, reparameterisation) is
    made per example of the global batch from a stateless seed of the step, so N replicas
    train the weights one device trains with the same global batch.

    Args:
        encoder: A built `keras.Model`, images (batch, H, W, C) -> codes (batch, *code_shape);
            with `variational=True` two outputs `[z_mean, z_log_var]` of that shape (e.g.
            `tfgen.architectures.conv_encoder(..., variational=True)`). None for an
            image-to-image restoration network: the decoder then takes the corrupted images
            themselves (no bottleneck), e.g. `tfgen.architectures.unet`.
        decoder: A built `keras.Model`, codes (batch, *code_shape) -> images (batch, H, W, C)
            in [-1, 1], e.g. `tfgen.architectures.conv_decoder`; with `encoder=None`, images
            -> images of the same shape.
        corruption: None (plain compression through the bottleneck), a
            `tfgen.corruptions.Corruption` (`GaussianNoise`, `RandomMask`) or a callable
            ``fn(images, seed)`` / ``fn(images)``; see `tfgen.corruptions`.
        loss: "l1" (default), "l2", "ssim" (1 - SSIM), a dict of weights such as
            ``{"l1": 1.0, "ssim": 0.2}``, or a callable ``(y_true, y_pred) -> (batch,)``; see
            `reconstruction_loss`.
        variational: Whether the model is a variational autoencoder.
        kl_weight: Weight >= 0 of the KL term (variational only). Defaults to 1.
        objective: "supervised" (default): the clean images are the targets, as above.
            "blind_spot": self-supervised denoising for data that has no clean images
            (Batson & Royer 2019, "Noise2Self"; Krull et al. 2019, "Noise2Void"). The images
            `fit` gets (after `corruption`, if any, which then only simulates noisy data: its
            clean input is never a target) are the targets themselves; at each step a random
            `BLIND_SPOT_FRACTION` of the pixels J of each image is replaced by the mean of its
            four neighbours (mirrored at the borders) and the loss is taken on J only,
            ``L_i = mean_{p in J} l(f(y_masked)_p - y_p)``, with l the "l1" or "l2" `loss`.
            The network cannot see y_p when predicting it, so it cannot copy the noise; for
            noise independent across pixels and zero-mean the minimiser is E[x_p | neighbours]
            (Noise2Self, section 3). Needs `encoder=None` (an image-to-image network). The
            "psnr" and "ssim" metrics compare the outputs with the images `fit` got (the clean
            ones when `corruption` simulates the noise): in `evaluate` the outputs on the
            whole noisy images, what the model returns at inference; in `fit` on the masked.
        seed: Seed of the corruption and sampling draws. Defaults to a random one.
        name: Model name. Defaults to "autoencoder".

    Raises:
        ValueError: for encoders and decoders whose shapes do not match, an encoder whose
            outputs do not fit `variational`, an unknown loss or a bad argument.
    """

    _image_role = "autoencoder takes"
    # Under a strategy with XLA on, each replica's forward pass and gradients compile (`_base`).
    _per_replica_xla_supported = True

    def __init__(
        self,
        encoder,
        decoder,
        corruption=None,
        loss="l1",
        variational=False,
        kl_weight=1.0,
        seed=None,
        name="autoencoder",
        objective="supervised",
        **kwargs,
    ):
        super().__init__(name=name, **kwargs)
        if objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {OBJECTIVES}, got {objective!r}")
        if objective == "blind_spot" and encoder is not None:
            raise ValueError(
                "objective='blind_spot' needs an image-to-image network: pass encoder=None and "
                "the network as decoder (e.g. architectures.unet)"
            )
        if objective == "blind_spot" and loss not in ("l1", "l2"):
            raise ValueError(
                f"objective='blind_spot' takes loss 'l1' or 'l2' (on the hidden pixels), got "
                f"{loss!r}"
            )
        self.objective = objective
        variational = checks.boolean(variational, "variational")
        self.image_shape, self.code_shape = _check_networks(encoder, decoder, variational)
        self.encoder = encoder
        self.decoder = decoder
        self.variational = variational
        self.corruption = corruptions.get(corruption)
        _check_corruption(self.corruption, decoder, self.image_shape, objective)
        self.reconstruction_loss = check_reconstruction_loss(loss)
        self._loss_fn = reconstruction_loss(self.reconstruction_loss)
        self.kl_weight = checks.number(kl_weight, "kl_weight", minimum=0)
        self.seed = checks.seed_or_random(seed)
        self.image_size = int(np.prod(self.image_shape))
        # Step counters of the stateless seeds: saved with the model so that a restored run
        # draws what an uninterrupted one would; `eval_step` restarts with every `evaluate`.
        self.noise_step = keras.Variable(
            0, dtype="int64", trainable=False, aggregation="only_first_replica", name="noise_step"
        )
        self.eval_step = keras.Variable(
            0, dtype="int64", trainable=False, aggregation="only_first_replica", name="eval_step"
        )
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.psnr_tracker = keras.metrics.Mean(name="psnr")
        self.ssim_tracker = keras.metrics.Mean(name="ssim")
        self.kl_tracker = keras.metrics.Mean(name="kl")
        self.built = True

    # -----------------------------------------------------------------------------------------
    # Configuration.

    def compile(self, optimizer=None, **kwargs):
        """Configures training.

        Args:
            optimizer: Optimizer instance, name or config. Defaults to tfgen `Adam(1e-3)`.
            **kwargs: Passed to `keras.Model.compile` (`jit_compile`, `run_eagerly`,
                `steps_per_execution`). The loss is the model's `loss` argument, and the metrics
                are fixed, so `loss`, `loss_weights`, `metrics` and `weighted_metrics` must be
                None.
        """
        for key in ("loss", "loss_weights", "metrics", "weighted_metrics"):
            if kwargs.pop(key, None) is not None:
                raise ValueError(
                    f"Autoencoder.compile takes no {key}: the reconstruction loss is the "
                    "model's `loss` argument and the metrics are loss, psnr and ssim"
                )
        optimizer = keras.optimizers.get(
            optimizer if optimizer is not None else default_optimizer()
        )
        if _base.is_maximizing(optimizer):
            raise ValueError(
                "the optimizer has maximize=True, but an autoencoder minimises its "
                "reconstruction loss: use maximize=False"
            )
        optimizer = self._prepare_optimizer(optimizer, self.trainable_variables)
        super().compile(optimizer=optimizer, **kwargs)

    def get_config(self):
        config = super().get_config()
        loss = self.reconstruction_loss
        if isinstance(loss, dict):
            loss = dict(loss)  # a plain dict, not Keras' tracked wrapper
        elif callable(loss):
            loss = keras.saving.serialize_keras_object(loss)
        config.update(
            encoder=keras.saving.serialize_keras_object(self.encoder),
            decoder=keras.saving.serialize_keras_object(self.decoder),
            corruption=keras.saving.serialize_keras_object(self.corruption),
            loss=loss,
            variational=self.variational,
            kl_weight=self.kl_weight,
            seed=self.seed,
            objective=self.objective,
        )
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        networks = ("encoder", "decoder", "corruption", "loss")
        return cls._from_config(config, custom_objects, networks)

    @property
    def metrics(self):
        trackers = [self.loss_tracker, self.psnr_tracker, self.ssim_tracker]
        if self.variational:
            trackers.append(self.kl_tracker)
        return trackers

    # -----------------------------------------------------------------------------------------
    # Inference.

    def _posterior(self, images, training):
        if self.encoder is None:  # an image-to-image network: the images are its input
            return tf.cast(images, tf.float32), None
        outputs = self.encoder(images, training=training)
        if self.variational:
            z_mean, z_log_var = outputs
            return tf.cast(z_mean, tf.float32), tf.cast(z_log_var, tf.float32)
        return tf.cast(outputs, tf.float32), None

    def encode(self, images, training=False):
        """Codes of images in [-1, 1]: the posterior means when variational."""
        images = self._as_images(images)
        return self._posterior(images, training)[0]

    def decode(self, codes, training=False):
        """Images in [-1, 1] decoded from `codes` (batch, *code_shape)."""
        return self.decoder(codes, training=training)

    def call(self, images, training=False):
        return self.decode(self.encode(images, training=training), training=training)

    def sample(self, n, seed=None):
        """`n` images decoded from prior codes z ~ N(0, I), in [0, 1], as a numpy array.

        Only for a variational model, whose prior the decoder was trained to decode.
        """
        if not self.variational:
            raise ValueError(
                "sample needs a variational model (variational=True): a plain autoencoder has "
                "no prior over its codes"
            )
        n = checks.integer(n, "n", minimum=1)
        shape = [int(n), *self.code_shape]
        z = tf.random.stateless_normal(shape, seed=corruptions.as_seed(seed))
        return _base.to_unit_range(self.decoder(z, training=False))

    def _as_images(self, images):
        images = tf.convert_to_tensor(images)
        _images.check_shape(images.shape, self.image_shape, "autoencoder takes")
        return tf.cast(images, tf.float32)

    # -----------------------------------------------------------------------------------------
    # Training.

    def _before_evaluate(self):
        self.eval_step.assign(0)

    def _seed(self, counter, offset, stream):
        return tf.stack(
            [tf.cast(self.seed + offset, tf.int64), counter * _STREAMS_PER_STEP + stream]
        )

    def _corrupt(self, clean, counter, offset):
        if self.corruption is None:
            return clean
        seed = self._seed(counter, offset, _CORRUPTION_STREAM)
        corrupted = self.corruption.call(clean, seed)
        if tuple(corrupted.shape[1:]) != tuple(clean.shape[1:]):
            raise ValueError(
                f"the corruption must keep the image shape {tuple(clean.shape[1:])}, got "
                f"{tuple(corrupted.shape[1:])}"
            )
        return tf.cast(corrupted, tf.float32)

    def _forward(self, inputs, counter, offset, training):
        """Per-example losses, reconstructions and KL (None unless variational).

        `inputs` are the clean images, or `(clean, corrupted)` when the pipeline corrupted them.
        """
        if isinstance(inputs, tuple):
            clean, corrupted = inputs
        else:
            clean, corrupted = inputs, self._corrupt(inputs, counter, offset)
        z_mean, z_log_var = self._posterior(corrupted, training)
        kl = None
        code = z_mean
        if self.variational:
            eps = distribute.per_example_normal(
                self.code_shape, tf.shape(clean)[0], self._seed(counter, offset, _SAMPLING_STREAM)
            )
            # Reparameterisation (Kingma & Welling 2014, eq. 10): gradients flow through mu, lv.
            code = z_mean + tf.exp(0.5 * z_log_var) * eps
            kl = kl_divergence(z_mean, z_log_var)
        if self.objective == "blind_spot":
            return self._blind_spot(clean, corrupted, counter, offset, training)
        reconstructions = tf.cast(self.decoder(code, training=training), tf.float32)
        per_example = self._loss_fn(clean, reconstructions)
        if self.variational:
            per_example = per_example + (self.kl_weight / self.image_size) * kl
        return per_example, reconstructions, kl

    def _blind_spot(self, clean, noisy, counter, offset, training):
        """Losses on hidden pixels, and the outputs on the whole images (see `objective`)."""
        seed = self._seed(counter, offset, _SAMPLING_STREAM)
        shape = tf.shape(noisy)
        draws = distribute.per_example_uniform([shape[1], shape[2], 1], shape[0], seed)
        hidden = tf.cast(draws < BLIND_SPOT_FRACTION, tf.float32)
        channels = self.image_shape[-1]
        ring = tf.constant([[0.0, 0.25, 0.0], [0.25, 0.0, 0.25], [0.0, 0.25, 0.0]])
        kernel = tf.tile(ring[:, :, None, None], [1, 1, channels, 1])
        padded = tf.pad(noisy, [[0, 0], [1, 1], [1, 1], [0, 0]], mode="REFLECT")
        neighbours = tf.nn.depthwise_conv2d(padded, kernel, [1, 1, 1, 1], "VALID")
        masked = hidden * neighbours + (1.0 - hidden) * noisy
        outputs = tf.cast(self.decoder(masked, training=training), tf.float32)
        error = outputs - noisy
        error = tf.abs(error) if self.reconstruction_loss == "l1" else tf.square(error)
        per_pixel_sum = tf.reduce_sum(error * hidden, axis=[1, 2, 3])
        count = tf.reduce_sum(hidden, axis=[1, 2, 3]) * channels
        per_example = tf.math.divide_no_nan(per_pixel_sum, count)
        # What the model returns at inference, for the metrics: the unmasked images' outputs.
        reconstructions = outputs if training else self.decoder(noisy, training=False)
        return per_example, tf.cast(reconstructions, tf.float32), None

    def _training_step_counter(self):
        return self.noise_step

    def _train_on(self, inputs):
        clean = inputs[0] if isinstance(inputs, tuple) else inputs
        # Collectives first, so that the forward pass and gradients may compile per replica
        # (`_compiled`); the gradient all-reduce and the update run in the optimizer's `apply`.
        with distribute.known_batch_position(tf.shape(clean)[0]) as global_batch:
            networks = [n for n in (self.encoder, self.decoder) if n is not None]
            step = self._compiled(self._gradients, *networks)
            gradients, per_example, reconstructions, kl = step(inputs, global_batch)
        self.optimizer.apply(gradients, self.trainable_variables)
        self._track(clean, reconstructions, per_example, kl)
        self.noise_step.assign_add(1)
        return distribute.step_logs(self.metrics, self.distribute_strategy)

    def _gradients(self, inputs, global_batch):
        """The loss's gradients, the per-example losses, the reconstructions and KL (or None)."""
        variables = self.trainable_variables
        with tf.GradientTape() as tape:
            per_example, reconstructions, kl = self._forward(inputs, self.noise_step, 0, True)
            loss = distribute.average_over_global_batch(per_example, global_batch)
            scaled = self.optimizer.scale_loss(loss)
        return tape.gradient(scaled, variables), per_example, reconstructions, kl

    def _test_on(self, inputs):
        clean = inputs[0] if isinstance(inputs, tuple) else inputs
        # Seeds offset from training's, so evaluation never reuses a training corruption.
        per_example, reconstructions, kl = self._forward(
            inputs, self.eval_step, offset=1, training=False
        )
        self._track(clean, reconstructions, per_example, kl)
        self.eval_step.assign_add(1)
        return distribute.step_logs(self.metrics, self.distribute_strategy)

    def _track(self, clean, reconstructions, per_example, kl):
        count = tf.size(per_example)
        self.loss_tracker.update_state(_mean(per_example), sample_weight=count)
        # An exact reconstruction (an inpainting example without holes) has an infinite PSNR;
        # capped, it cannot make the mean infinite, which `fit` would take for divergence.
        capped = tf.minimum(psnr(clean, reconstructions), MAX_PSNR)
        self.psnr_tracker.update_state(_mean(capped), sample_weight=count)
        self.ssim_tracker.update_state(_mean(ssim(clean, reconstructions)), sample_weight=count)
        if kl is not None:
            self.kl_tracker.update_state(_mean(kl), sample_weight=count)


@keras.saving.register_keras_serializable(package="tfgen")
class VAE(Autoencoder):
    """A variational autoencoder: `Autoencoder(..., variational=True)` (Kingma & Welling 2014).

    The encoder returns ``[z_mean, z_log_var]`` (`conv_encoder(..., variational=True)`); see
    `Autoencoder` for the loss, `sample` for drawing images from the prior.
    """

    def __init__(
        self,
        encoder,
        decoder,
        corruption=None,
        loss="l1",
        kl_weight=1.0,
        seed=None,
        name="vae",
        variational=True,
        **kwargs,
    ):
        if variational is not True:
            raise ValueError(f"a VAE is variational: variational must be True, got {variational!r}")
        super().__init__(
            encoder,
            decoder,
            corruption=corruption,
            loss=loss,
            variational=True,
            kl_weight=kl_weight,
            seed=seed,
            name=name,
            **kwargs,
        )
