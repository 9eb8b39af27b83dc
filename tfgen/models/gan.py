"""A generative adversarial network as a `keras.Model` trained with `fit`."""

import keras
import numpy as np
import tensorflow as tf

from tfgen import _checks as checks
from tfgen import distribute, losses
from tfgen.augment import parse_policy
from tfgen.models import _base, _labels
from tfgen.models._gan_step import _STREAMS_PER_STEP, GANStep
from tfgen.optimizers import Adam

# Adam with learning rate 2e-4 (Radford et al. 2015, "Unsupervised Representation Learning
# with Deep Convolutional GANs") and betas (0, 0.9), the setting of WGAN-GP and SNGAN (Gulrajani
# et al. 2017; Miyato et al. 2018), for both networks. benchmarks/gan_ablation.py chose the
# betas (BENCHMARKS.md, "GAN defaults by ablation"): in the same training budget on the
# digits, (0, 0.9) gave a mean FID 0.42x that of DCGAN's (0.5, 0.999) at 8x8 and 0.32x at
# 16x16 (2 seeds each); a lower (1e-4) or two-timescale (1e-4 / 4e-4) learning rate did worse.
DEFAULT_LEARNING_RATE = 2e-4
DEFAULT_BETA_1 = 0.0
DEFAULT_BETA_2 = 0.9


def default_optimizer():
    """Adam(2e-4, beta_1=0.0, beta_2=0.9): the defaults above, chosen by the ablation."""
    return Adam(learning_rate=DEFAULT_LEARNING_RATE, beta_1=DEFAULT_BETA_1, beta_2=DEFAULT_BETA_2)


@keras.saving.register_keras_serializable(package="tfgen")
class GAN(GANStep, _base.ImageModel):
    """A generator and a discriminator trained against each other with `model.fit`.

    `fit` takes batches of real images in [-1, 1] (or `(images, labels)` pairs; labels are
    ignored). Each step makes `discriminator_steps` discriminator updates, then one generator
    update against the updated discriminator, with the losses of `tfgen.losses` (Goodfellow et
    al. 2014 and successors). The first discriminator update and the generator update share
    one batch of generated images, so with `discriminator_steps=1` a step runs the generator
    forward once; each further discriminator update draws a new batch from the generator (one
    more forward pass, without gradients to the generator). The
    discriminator sees real and generated images in one concatenated batch, unless it has batch
    normalisation (`discriminator_batch_norm`, detected in any nested model): then in two, so
    that each batch is normalised by its own statistics as in the PyTorch DCGAN example, not by
    those of real and fake mixed.

    Under any `tf.distribute` strategy, create the GAN inside `strategy.scope()`; `compile`
    builds both optimizers there. Losses are averaged over the global batch and latent codes
    are drawn per example of the global batch from a stateless seed of the step, so training on
    N replicas gives the weights one device gives with the same global batch.

    `jit_compile="auto"` (the default) times the first training steps with and without XLA and
    keeps the faster (`tfgen.models._jit`; the outcome is in `jit_decision`). Under a
    distribution strategy XLA compiles the forward passes and gradients of each replica, the
    gradient all-reduce and the updates run between them; a network with a synchronised batch
    norm (the builders' under a strategy) stays with TensorFlow's kernels. XLA rounds (and
    draws random numbers) differently from TensorFlow's kernels, so a run with XLA follows
    another (equally valid) trajectory than one without: pass `jit_compile=True` or `False`
    for a reproducible run.

    With `num_classes=K` the GAN is class-conditional (Mirza & Osindero 2014) and uses the
    labels: the generator takes `[z, labels]`, the discriminator `[images, labels]` (e.g.
    `architectures.dcgan_*(..., num_classes=K)`), `fit` takes `(images, labels)` batches with
    integer labels in [0, K), and the labels of generated images are drawn uniformly per
    example from the step's stateless seed, like the latent codes, so N replicas still give
    one device's weights.

    Args:
        generator: A built `keras.Model` mapping latent codes (batch, latent_dim) to images
            (batch, H, W, C) in [-1, 1].
        discriminator: A built `keras.Model` mapping such images to one logit per image,
            (batch, 1) or (batch,).
        latent_dim: Size of the latent code; inferred from the generator when `None`.
        num_classes: `None` (unconditional) or the number of classes K >= 2.
        seed: Seed of the latent codes drawn during training. Defaults to a random one.
        name: Model name. Defaults to `"gan"`.
    """

    _image_role = "generator makes"
    _per_replica_xla_supported = True

    def __init__(
        self,
        generator,
        discriminator,
        latent_dim=None,
        seed=None,
        name="gan",
        num_classes=None,
        **kw,
    ):
        super().__init__(name=name, **kw)
        self.num_classes = _labels.check_num_classes(num_classes)
        conditional = self.num_classes is not None
        self.latent_dim = _check_generator(generator, latent_dim, conditional)
        self.image_shape = tuple(generator.output_shape[1:])
        _check_discriminator(discriminator, self.image_shape, conditional)
        for network, role in ((generator, "generator"), (discriminator, "discriminator")):
            _check_label_embeddings(network, role, self.num_classes)
        self.generator = generator
        self.discriminator = discriminator
        #: Whether the discriminator normalises batches: real and fake then go in separately.
        self.discriminator_batch_norm = has_batch_normalization(discriminator)
        self.seed = checks.seed_or_random(seed)
        self.ema_generator = None
        self.augment = ()
        # Counts training steps for the stateless noise seed; saved with the model so that a
        # restored run draws the codes an uninterrupted one would.
        self.noise_step = keras.Variable(
            0, dtype="int64", trainable=False, aggregation="only_first_replica", name="noise_step"
        )
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.d_real_tracker = keras.metrics.Mean(name="d_real")
        self.d_fake_tracker = keras.metrics.Mean(name="d_fake")
        self.penalty_tracker = keras.metrics.Mean(name="gradient_penalty")
        self.built = True

    # ----------------------------------------------------------------------------------------
    # Configuration.

    def compile(
        self,
        generator_optimizer=None,
        discriminator_optimizer=None,
        loss="non_saturating",
        gradient_penalty=None,
        discriminator_steps=1,
        generator_ema=None,
        augment=None,
        **kwargs,
    ):
        """Configures training.

        Args:
            generator_optimizer: Optimizer instance, name or config of the generator.
                Defaults to tfgen `Adam(2e-4, beta_1=0.0, beta_2=0.9)` (`default_optimizer`:
                the learning rate of Radford et al. 2015, the betas of Gulrajani et al. 2017,
                chosen by benchmarks/gan_ablation.py).
            discriminator_optimizer: The same for the discriminator. An optimizer with
                `maximize=True` ascends the discriminator's objective (minus its loss).
            loss: One of `tfgen.losses.LOSSES`. Defaults to `"non_saturating"`.
            gradient_penalty: `None`, `("wgan_gp", weight)` or `("r1", gamma)`.
            discriminator_steps: Discriminator updates per generator update, >= 1.
            generator_ema: `None` or the decay in [0, 1) of an exponential moving average of
                the generator's weights (Karras et al. 2018); sampling and export then use it.
            augment: `None` or DiffAugment operations, e.g. `"color,translation,cutout"` (see
                `tfgen.augment`, Zhao et al. 2020): applied to real and generated images before
                every discriminator call, in the generator's update too, with draws per example
                from the step's stateless seed. For small datasets.
            **kwargs: Passed to `keras.Model.compile` (`jit_compile`, `run_eagerly`,
                `steps_per_execution`).
        """
        self.loss_functions = losses.get(loss)
        self.gradient_penalty = losses.parse_gradient_penalty(gradient_penalty)
        self.augment = parse_policy(augment)
        # Each discriminator step draws its own random stream; the last stream is evaluation's.
        most = _STREAMS_PER_STEP - 1
        if not checks.is_int(discriminator_steps) or not 1 <= discriminator_steps < most:
            raise ValueError(
                f"discriminator_steps must be an int >= 1 (and < {most}), "
                f"got {discriminator_steps!r}"
            )
        discriminator_steps = int(discriminator_steps)
        ema = None if generator_ema is None else checks.finite_float(generator_ema, "generator_ema")
        if ema is not None and not 0 <= ema < 1:
            raise ValueError(
                f"generator_ema must be None or a float in [0, 1), got {generator_ema}"
            )
        for key in ("optimizer", "loss_weights", "metrics", "weighted_metrics"):
            if kwargs.get(key) is not None:
                raise ValueError(
                    f"GAN.compile takes generator_optimizer and discriminator_optimizer, not {key}"
                )
        super().compile(optimizer=None, **kwargs)
        self.discriminator_steps = discriminator_steps
        self.generator_ema = generator_ema
        self._compile_arguments = dict(
            generator_optimizer=_optimizer(generator_optimizer, "generator_optimizer"),
            discriminator_optimizer=_optimizer(discriminator_optimizer, "discriminator_optimizer"),
            loss=loss,
            gradient_penalty=self.gradient_penalty,
            discriminator_steps=discriminator_steps,
            generator_ema=generator_ema,
            augment=",".join(self.augment) or None,
        )
        self.generator_optimizer = self._prepare_optimizer(
            self._compile_arguments["generator_optimizer"], self.generator.trainable_variables
        )
        self.discriminator_optimizer = self._prepare_optimizer(
            self._compile_arguments["discriminator_optimizer"],
            self.discriminator.trainable_variables,
        )
        with self.distribute_strategy.scope():
            self.ema_generator = self._make_ema_generator() if generator_ema is not None else None

    def _make_ema_generator(self):
        ema = keras.Model.from_config(self.generator.get_config())
        ema.set_weights(self.generator.get_weights())
        ema.trainable = False
        return ema

    def get_compile_config(self):
        if not self.compiled:
            return {}
        return keras.saving.serialize_keras_object(self._compile_arguments)

    def get_config(self):
        config = super().get_config()
        config.update(
            generator=keras.saving.serialize_keras_object(self.generator),
            discriminator=keras.saving.serialize_keras_object(self.discriminator),
            latent_dim=self.latent_dim,
            seed=self.seed,
            num_classes=self.num_classes,
        )
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return cls._from_config(config, custom_objects, ("generator", "discriminator"))

    @property
    def metrics(self):
        trackers = [self.d_loss_tracker, self.g_loss_tracker, self.d_real_tracker]
        trackers.append(self.d_fake_tracker)
        if getattr(self, "gradient_penalty", None):
            trackers.append(self.penalty_tracker)
        return trackers

    # ----------------------------------------------------------------------------------------
    # Sampling.

    @property
    def sampling_generator(self):
        """The generator used to sample: the moving average when `generator_ema` is set."""
        return self.ema_generator if self.ema_generator is not None else self.generator

    def call(self, inputs, training=False):
        """Images in [-1, 1] of latent codes `z`, or of `[z, labels]` for a conditional GAN."""
        return self.sampling_generator(inputs, training=training)

    def generate(self, n, seed=None, labels=None):
        """Returns `n` generated images in [0, 1] as a numpy array (batch, H, W, C).

        Args:
            n: Number of images, int >= 1.
            seed: `None` for fresh randomness, or an int: the same seed gives the same latent
                codes (`tf.random.stateless_normal([n, latent_dim], seed=[seed, 0])`, what the
                exported `sample` signature draws) and the same drawn labels.
            labels: Conditional GANs only: the class of each image, an int (all `n` images of
                that class) or `n` ints in [0, num_classes). `None` draws them uniformly.
        """
        n = checks.integer(n, "n", minimum=1)
        seed = checks.seed(seed)
        if seed is None:
            z = tf.random.normal([n, self.latent_dim])
        else:
            z = tf.random.stateless_normal([n, self.latent_dim], seed=[seed, 0])
        inputs = z
        if self.num_classes is not None:
            inputs = [z, tf.constant(self._generation_labels(n, labels, seed))]
        elif labels is not None:
            raise ValueError(
                "labels are for a conditional GAN (num_classes=K); this GAN is unconditional"
            )
        return _base.to_unit_range(self.sampling_generator(inputs, training=False))

    def _generation_labels(self, n, labels, seed):
        if labels is None:
            if seed is None:
                return np.random.default_rng().integers(self.num_classes, size=n).astype(np.int32)
            draws = tf.random.stateless_uniform([n], seed=[seed, 1], alg=distribute.RNG)
            return distribute.uniform_integers(draws, self.num_classes).numpy()
        if checks.is_int(labels):
            labels = np.full([n], labels)
        labels = _labels.check_values(labels, self.num_classes)
        if len(labels) != n:
            raise ValueError(f"labels must hold n={n} labels, got {len(labels)}")
        return labels

    # ----------------------------------------------------------------------------------------
    # Training.

    def fit(self, x=None, y=None, *args, **kwargs):
        if self.num_classes is not None:
            _labels.check_training_data(x, y, self.num_classes)
        with _labels.raising_bad_labels():
            return super().fit(x, y, *args, **kwargs)

    def evaluate(self, x=None, y=None, *args, **kwargs):
        if self.num_classes is not None and not kwargs.get("_use_cached_eval_dataset"):
            _labels.check_training_data(x, y, self.num_classes)
        with _labels.raising_bad_labels():
            return super().evaluate(x, y, *args, **kwargs)


def _optimizer(optimizer, argument):
    """`optimizer` as a Keras optimizer (an instance, a name or a config), or the default."""
    if optimizer is None:
        return default_optimizer()
    try:
        return keras.optimizers.get(optimizer)
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"{argument} must be None, a keras.optimizers.Optimizer or its name, got "
            f"{optimizer!r} ({error})"
        ) from None


def _conditional_inputs(network, name, first, conditional):
    """The shape of the first input; checks `[first, labels]` inputs against `conditional`."""
    input_shape = network.input_shape
    takes_two = isinstance(input_shape, list) and len(input_shape) == 2
    if conditional and not (takes_two and len(input_shape[1]) in (1, 2)):
        raise ValueError(
            f"a conditional GAN (num_classes set) needs a {name} taking [{first}, labels], "
            f"labels of shape (batch,), got inputs {input_shape}: build it with "
            "num_classes=K (tfgen.architectures)"
        )
    if not conditional and isinstance(input_shape, list):
        raise ValueError(
            f"the {name} takes several inputs {input_shape}: for a class-conditional {name} "
            f"taking [{first}, labels], pass num_classes=K to GAN"
        )
    return input_shape[0] if conditional else input_shape


def _check_generator(generator, latent_dim, conditional):
    checks.built_model(generator, "generator")
    input_shape = _conditional_inputs(generator, "generator", "z", conditional)
    output_shape = generator.output_shape
    if not isinstance(input_shape, tuple) or len(input_shape) != 2:
        raise ValueError(
            f"generator must take latent codes of shape (batch, latent_dim), got {input_shape}"
        )
    if len(output_shape) != 4:
        raise ValueError(f"generator must return images (batch, H, W, C), got {output_shape}")
    if latent_dim is not None and latent_dim != input_shape[-1]:
        raise ValueError(
            f"latent_dim={latent_dim} does not match the generator's input size {input_shape[-1]}"
        )
    return int(input_shape[-1])


def _layers_within(network):
    """Every layer of `network`, those of nested models (anything with `.layers`) included."""
    for layer in getattr(network, "layers", None) or ():
        yield layer
        yield from _layers_within(layer)


def _check_label_embeddings(network, role, num_classes):
    """A label `Embedding` too small for `num_classes` fails here, not in the first step."""
    if num_classes is None:
        return
    for layer in _layers_within(network):
        if isinstance(layer, keras.layers.Embedding) and layer.input_dim < num_classes:
            raise ValueError(
                f"num_classes={num_classes}, but the {role}'s embedding {layer.name!r} holds "
                f"{layer.input_dim} classes (labels {layer.input_dim} to {num_classes - 1} "
                f"would fail): build the networks with num_classes={num_classes}"
            )


def has_batch_normalization(model):
    """Whether `model` or a model or layer nested in it (through `.layers`) is a Keras
    `BatchNormalization` (tfgen's fused one is a subclass)."""
    return any(
        isinstance(layer, keras.layers.BatchNormalization)
        for layer in (model, *_layers_within(model))
    )


def _check_discriminator(discriminator, image_shape, conditional):
    checks.built_model(discriminator, "discriminator")
    input_shape = _conditional_inputs(discriminator, "discriminator", "images", conditional)
    if tuple(input_shape[1:]) != image_shape:
        raise ValueError(
            f"discriminator takes images of shape {tuple(input_shape[1:])}, "
            f"but the generator makes {image_shape}"
        )
    output_shape = tuple(discriminator.output_shape[1:])
    if output_shape not in ((), (1,)):
        raise ValueError(
            "discriminator must return one logit per image, shape (batch, 1) or (batch,), "
            f"got (batch, {', '.join(map(str, output_shape))})"
        )
