"""Class-conditional generation: the conditional builders, the GAN, data, export and sampling."""

import importlib.util
import os
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image
from sklearn.datasets import load_digits

import tfgen.callbacks
import tfgen.data
import tfgen.export
from tfgen import architectures
from tfgen.models import GAN

SIDE, CLASSES, LATENT, FILTERS = 8, 3, 8, 4


def _latent(n, seed=0):
    return tf.constant(np.random.default_rng(seed).normal(size=(n, LATENT)), tf.float32)


def _images(n, seed=0):
    rng = np.random.default_rng(seed)
    return tf.constant(rng.uniform(-1, 1, (n, SIDE, SIDE, 1)), tf.float32)


# --------------------------------------------------------------------------------------------
# Builders.


def test_conditional_builders_take_labels_and_keep_shapes():
    generator = architectures.dcgan_generator((SIDE, SIDE, 1), LATENT, FILTERS, num_classes=CLASSES)
    discriminator = architectures.dcgan_discriminator(
        (SIDE, SIDE, 1), FILTERS, spectral_norm=True, num_classes=CLASSES
    )
    assert generator.input_shape == [(None, LATENT), (None,)]
    assert discriminator.input_shape == [(None, SIDE, SIDE, 1), (None,)]
    labels = tf.constant([0, 1, 2, 1])
    images = generator([_latent(4), labels], training=True)
    assert images.shape == (4, SIDE, SIDE, 1) and images.dtype == tf.float32
    assert discriminator([images, labels], training=True).shape == (4, 1)


def test_projection_discriminator_matches_hand_computation():
    """D(x, y) = w . phi(x) + b + V[y] . phi(x) (Miyato & Koyama 2018, eq. 3)."""
    keras.utils.set_random_seed(0)
    discriminator = architectures.dcgan_discriminator((SIDE, SIDE, 1), FILTERS, num_classes=CLASSES)
    images, labels = _images(5), tf.constant([0, 2, 1, 2, 0])
    features_model = keras.Model(discriminator.inputs, discriminator.get_layer("flatten").output)
    phi = features_model([images, labels]).numpy().astype(np.float64)
    kernel, bias = (w.numpy() for w in discriminator.get_layer("logit_dense").weights)
    projection = discriminator.get_layer("label_projection").embeddings.numpy()
    assert projection.shape == (CLASSES, phi.shape[1])
    expected = phi @ kernel[:, 0] + bias[0] + np.sum(projection[labels.numpy()] * phi, axis=1)
    got = discriminator([images, labels]).numpy()[:, 0]
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    # The label matters: another class gives another logit for the same image.
    other = discriminator([images, (labels + 1) % CLASSES]).numpy()[:, 0]
    assert np.all(np.abs(other - got) > 1e-6)


def test_conditional_batch_norm_scales_and_shifts_per_class():
    """BN(x) * (1 + gamma[y]) + beta[y], the gains and biases starting at zero."""
    keras.utils.set_random_seed(0)
    generator = architectures.dcgan_generator((SIDE, SIDE, 1), LATENT, FILTERS, num_classes=CLASSES)
    gamma = generator.get_layer("project_bn_gamma").embeddings
    beta = generator.get_layer("project_bn_beta").embeddings
    assert np.all(gamma.numpy() == 0) and np.all(beta.numpy() == 0)
    rng = np.random.default_rng(1)
    gamma.assign(rng.normal(size=gamma.shape))
    beta.assign(rng.normal(size=beta.shape))
    inputs = [_latent(6), tf.constant([0, 1, 2, 2, 1, 0])]
    normalized = keras.Model(generator.inputs, generator.get_layer("project_bn").output)
    conditional = keras.Model(
        generator.inputs, generator.get_layer("project_bn_conditional").output
    )
    x = normalized(inputs, training=True).numpy()
    # Plain batch normalisation of the projection: zero mean, unit variance per channel.
    np.testing.assert_allclose(x.mean(axis=(0, 1, 2)), 0, atol=1e-5)
    labels = inputs[1].numpy()
    expected = (
        x * (1 + gamma.numpy()[labels][:, None, None, :]) + beta.numpy()[labels][:, None, None, :]
    )
    got = conditional(inputs, training=True).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_conditional_builders_save_and_load_safely(tmp_path):
    generator = architectures.dcgan_generator((SIDE, SIDE, 1), LATENT, FILTERS, num_classes=CLASSES)
    discriminator = architectures.dcgan_discriminator(
        (SIDE, SIDE, 1), FILTERS, spectral_norm=True, num_classes=CLASSES
    )
    labels = tf.constant([2, 0])
    for model, inputs in ((generator, [_latent(2), labels]), (discriminator, [_images(2), labels])):
        path = tmp_path / f"{model.name}.keras"
        model.save(path)
        loaded = keras.saving.load_model(path, safe_mode=True)
        np.testing.assert_allclose(loaded(inputs), model(inputs), rtol=1e-6)


@pytest.mark.parametrize("num_classes", [0, -2, 2.5, True, "10"])
def test_bad_num_classes_is_refused(num_classes):
    with pytest.raises(ValueError, match="num_classes"):
        architectures.dcgan_generator((SIDE, SIDE, 1), LATENT, num_classes=num_classes)
    with pytest.raises(ValueError, match="num_classes"):
        architectures.dcgan_discriminator((SIDE, SIDE, 1), num_classes=num_classes)


# --------------------------------------------------------------------------------------------
# The conditional GAN.

BATCH = 16
DIGIT_CLASSES = 10


@pytest.fixture(scope="module")
def digits():
    data = load_digits()
    images = data.images.astype(np.float32)[..., None] / 8.0 - 1.0
    return images[: 3 * BATCH], data.target[: 3 * BATCH].astype(np.int64)


def labelled_batches(images, labels, batch=BATCH):
    dataset = tf.data.Dataset.from_tensor_slices((images, labels))
    return dataset.batch(batch, drop_remainder=True)


def make_conditional_gan(seed=0, num_classes=DIGIT_CLASSES):
    keras.utils.set_random_seed(seed)
    generator = architectures.dcgan_generator(
        (SIDE, SIDE, 1), LATENT, FILTERS, num_classes=num_classes
    )
    discriminator = architectures.dcgan_discriminator(
        (SIDE, SIDE, 1), FILTERS, num_classes=num_classes
    )
    return GAN(generator, discriminator, seed=seed, num_classes=num_classes)


def weights_of(model):
    return [w.numpy() for w in model.weights]


@pytest.mark.parametrize(
    "options",
    [
        {"augment": "color,translation,cutout", "gradient_penalty": ("r1", 1.0)},
        {"loss": "wasserstein", "gradient_penalty": ("wgan_gp", 10.0), "discriminator_steps": 2},
    ],
    ids=["augment_r1", "wgan_gp"],
)
def test_two_replicas_equal_one_device(digits, options, two_replicas):
    results = []
    for strategy in (tf.distribute.get_strategy(), two_replicas):
        with strategy.scope():
            gan = make_conditional_gan()
            gan.compile(**options)
        # Two steps: the second runs on weights the first changed.
        history = gan.fit(labelled_batches(*digits).take(2), epochs=1, verbose=0)
        results.append((weights_of(gan), history.history))
    (weights_one, history_one), (weights_two, history_two) = results
    for one, two in zip(weights_one, weights_two, strict=True):
        np.testing.assert_allclose(one, two, rtol=1e-4, atol=1e-5)
    for name in history_one:
        np.testing.assert_allclose(history_one[name], history_two[name], rtol=1e-4, atol=1e-5)


def test_augmented_and_plain_training_differ_but_both_learn_something(digits):
    histories, weights = [], []
    for augment in (None, "color,translation,cutout"):
        gan = make_conditional_gan()
        gan.compile(augment=augment)
        histories.append(gan.fit(labelled_batches(*digits), epochs=1, verbose=0).history)
        weights.append(weights_of(gan.discriminator))
    for history in histories:
        assert all(np.isfinite(v[0]) for v in history.values())
    # The discriminator saw other images, so it moved elsewhere.
    assert any(not np.allclose(a, b) for a, b in zip(*weights, strict=True))


def test_fit_takes_arrays_with_labels(digits):
    gan = make_conditional_gan()
    gan.compile()
    images, labels = digits
    history = gan.fit(images, labels, batch_size=BATCH, epochs=1, verbose=0)
    assert np.isfinite(history.history["d_loss"][0])
    logs = gan.evaluate(images, labels, batch_size=BATCH, verbose=0, return_dict=True)
    # d_real is the mean logit of the real images with their own labels, computed directly.
    real_logits = gan.discriminator([images, labels], training=False).numpy().ravel()
    np.testing.assert_allclose(logs["d_real"], real_logits.mean(), rtol=1e-4, atol=1e-6)
    # Non-saturating losses (Goodfellow et al. 2014) from the mean logits they are made of:
    # g_loss = mean softplus(-f) >= softplus(-mean f) (Jensen), and d_loss likewise.
    assert logs["g_loss"] >= np.logaddexp(0.0, -logs["d_fake"]) - 1e-5
    want = np.logaddexp(0.0, -logs["d_real"]) + np.logaddexp(0.0, logs["d_fake"])
    assert logs["d_loss"] >= want - 1e-5


@pytest.mark.parametrize(
    "make_data, message",
    [
        (lambda x, y: tf.data.Dataset.from_tensor_slices(x).batch(BATCH), "images alone"),
        (lambda x, y: labelled_batches(x, y + 5), r"\[0, 10\).*got \[1[0-4]"),
        (lambda x, y: labelled_batches(x, y - 10), r"\[0, 10\)"),
        (lambda x, y: labelled_batches(x, y.astype(np.float32)), "integers.*float32"),
        (lambda x, y: labelled_batches(x, y[:, None, None]), "shape"),
    ],
    ids=["missing", "too_large", "negative", "float", "rank"],
)
def test_bad_labels_are_refused_before_training(digits, make_data, message):
    gan = make_conditional_gan()
    gan.compile()
    trainable = gan.generator.trainable_weights + gan.discriminator.trainable_weights
    before = [w.numpy() for w in trainable]
    with pytest.raises(ValueError, match=message):
        gan.fit(make_data(*digits), epochs=1, verbose=0)
    # No trainable weight moved.
    after = [w.numpy() for w in trainable]
    for old, new in zip(before, after, strict=True):
        np.testing.assert_array_equal(old, new)


def test_bad_label_arrays_are_refused(digits):
    gan = make_conditional_gan()
    gan.compile()
    images, labels = digits
    with pytest.raises(ValueError, match="y=None"):
        gan.fit(images, batch_size=BATCH, verbose=0)
    with pytest.raises(ValueError, match="10"):
        gan.fit(images, labels + 1, batch_size=BATCH, verbose=0)
    with pytest.raises(ValueError, match="labels"):
        gan.fit(images, labels[:-1], batch_size=BATCH, verbose=0)


def test_out_of_range_labels_in_a_later_batch_stop_training(digits):
    gan = make_conditional_gan()
    gan.compile()
    images, labels = digits
    labels = labels.copy()
    labels[-1] = DIGIT_CLASSES  # last batch only
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 10\).*got \[10\]"):
        gan.fit(labelled_batches(images, labels), epochs=1, verbose=0)


def test_networks_must_match_num_classes():
    conditional = make_conditional_gan()
    plain_generator = architectures.dcgan_generator((SIDE, SIDE, 1), LATENT, FILTERS)
    plain_discriminator = architectures.dcgan_discriminator((SIDE, SIDE, 1), FILTERS)
    with pytest.raises(ValueError, match="pass num_classes=K"):
        GAN(conditional.generator, conditional.discriminator)
    with pytest.raises(ValueError, match=r"generator taking \[z, labels\]"):
        GAN(plain_generator, conditional.discriminator, num_classes=DIGIT_CLASSES)
    with pytest.raises(ValueError, match=r"discriminator taking \[images, labels\]"):
        GAN(conditional.generator, plain_discriminator, num_classes=DIGIT_CLASSES)
    for bad in (1, 2.0, "3", True):
        with pytest.raises(ValueError, match="num_classes"):
            GAN(conditional.generator, conditional.discriminator, num_classes=bad)


def test_bad_augment_is_refused():
    gan = make_conditional_gan()
    with pytest.raises(ValueError, match="'zoom'"):
        gan.compile(augment="color,zoom")


def test_generate_follows_labels_and_seed():
    gan = make_conditional_gan()
    one_class = gan.generate(4, labels=3, seed=1)
    assert one_class.shape == (4, SIDE, SIDE, 1)
    assert one_class.min() >= 0 and one_class.max() <= 1
    np.testing.assert_array_equal(gan.generate(4, labels=[3, 3, 3, 3], seed=1), one_class)
    # The same codes under another label give other images; the same seed gives the same.
    assert not np.allclose(gan.generate(4, labels=5, seed=1), one_class)
    np.testing.assert_array_equal(gan.generate(6, seed=2), gan.generate(6, seed=2))
    # The codes are those of the unconditional `generate` (and the export's `sample`).
    z = tf.random.stateless_normal([4, LATENT], seed=[1, 0])
    expected = gan.generator([z, tf.constant([3] * 4)], training=False).numpy()
    np.testing.assert_allclose(one_class, np.clip((expected + 1) / 2, 0, 1), atol=1e-6)


@pytest.mark.parametrize(
    "labels, message",
    [(10, r"\[0, 10\)"), ([1, 2], "n=3"), ([0.5, 1, 2], "integers"), (-1, r"\[0, 10\)")],
)
def test_generate_refuses_bad_labels(labels, message):
    gan = make_conditional_gan()
    with pytest.raises(ValueError, match=message):
        gan.generate(3, labels=labels)


def test_unconditional_generate_refuses_labels():
    generator = architectures.dcgan_generator((SIDE, SIDE, 1), LATENT, FILTERS)
    gan = GAN(generator, architectures.dcgan_discriminator((SIDE, SIDE, 1), FILTERS))
    with pytest.raises(ValueError, match="conditional"):
        gan.generate(2, labels=1)


def test_save_load_and_continue_like_uninterrupted_training(digits, tmp_path):
    data = labelled_batches(*digits)
    gan = make_conditional_gan()
    gan.compile(augment="translation,cutout", generator_ema=0.5)
    gan.fit(data, epochs=1, verbose=0)
    gan.save(tmp_path / "gan.keras")
    loaded = keras.saving.load_model(tmp_path / "gan.keras", safe_mode=True)
    assert loaded.num_classes == DIGIT_CLASSES
    assert loaded.augment == ("translation", "cutout")
    for ours, theirs in zip(weights_of(gan), weights_of(loaded), strict=True):
        np.testing.assert_array_equal(ours, theirs)
    np.testing.assert_array_equal(
        loaded.generate(5, labels=[0, 1, 2, 3, 4], seed=3),
        gan.generate(5, labels=[0, 1, 2, 3, 4], seed=3),
    )
    gan.fit(data, epochs=1, verbose=0)
    loaded.fit(data, epochs=1, verbose=0)
    for ours, theirs in zip(weights_of(gan), weights_of(loaded), strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-7)


def test_export_serves_labels_and_per_class_samples(tmp_path):
    gan = make_conditional_gan()
    gan.compile(generator_ema=0.9)
    path = tfgen.export.export_generator(gan, tmp_path / "saved_model")
    served = tf.saved_model.load(path)
    labels = tf.constant([0, 9, 4], tf.int32)
    sampled = served.signatures["sample"](labels=labels, seed=tf.constant(7, tf.int64))["images"]
    np.testing.assert_allclose(
        sampled.numpy(), gan.generate(3, labels=[0, 9, 4], seed=7), rtol=1e-5, atol=1e-6
    )
    z = _latent(3)
    images = served.signatures["serving_default"](z=z, labels=labels)["images"].numpy()
    expected = gan.sampling_generator([z, labels], training=False).numpy()
    np.testing.assert_allclose(images, np.clip((expected + 1) / 2, 0, 1), rtol=1e-5, atol=1e-6)
    assert images.shape == (3, SIDE, SIDE, 1)


def test_sample_grid_has_one_row_per_class(tmp_path):
    gan = make_conditional_gan(num_classes=CLASSES)
    grid = tfgen.callbacks.SampleGrid(tmp_path, latent_batch=5, seed=3)
    grid.set_model(gan)
    grid.on_train_begin()
    images = grid.images()
    per_row = 2  # ceil(5 / 3)
    assert grid.columns == per_row and images.shape == (CLASSES * per_row, SIDE, SIDE, 1)
    z = tf.random.stateless_normal([5, LATENT], seed=[3, 0])[:per_row]
    for label in range(CLASSES):
        row = images[label * per_row : (label + 1) * per_row]
        np.testing.assert_allclose(row, gan.generate(per_row, labels=label, seed=3), atol=1e-6)
        expected = gan.generator([z, tf.fill([per_row], label)], training=False).numpy()
        np.testing.assert_allclose(row, np.clip((expected + 1) / 2, 0, 1), atol=1e-6)
    assert grid.write(1).endswith("epoch_001.png")


# --------------------------------------------------------------------------------------------
# Labelled data.


def test_bundled_digits_come_with_their_labels():
    assert tfgen.data.class_names("digits") == tuple(str(d) for d in range(10))
    dataset = tfgen.data.load("digits", batch_size=50, shuffle=False, with_labels=True)
    images, labels = next(iter(dataset))
    assert images.shape == (50, 8, 8, 1) and labels.dtype == tf.int64
    reference = load_digits()
    first = np.random.default_rng(0).permutation(1797)[297:347]  # The train split's first 50.
    np.testing.assert_array_equal(labels.numpy(), reference.target[first])
    expected = np.rint(reference.images[first] * 255 / 16) / 127.5 - 1
    np.testing.assert_allclose(images.numpy()[..., 0], expected, atol=1e-6)


def _write_class_folders(root, counts):
    """Files name<i>.png in one sub-folder per class, one nested a level deeper; grey values
    encode the class so that each image can be checked against its label."""
    for index, (name, count) in enumerate(sorted(counts.items())):
        for i in range(count):
            folder = root / name / ("nested" if i == 0 else "")
            folder.mkdir(parents=True, exist_ok=True)
            pixels = np.full((SIDE, SIDE), 40 * (index + 1), np.uint8)
            Image.fromarray(pixels).save(folder / f"{name}{i}.png")


def test_folder_labels_follow_sorted_class_folders(tmp_path):
    _write_class_folders(tmp_path, {"zebra": 3, "ant": 2, "moth": 4})
    (tmp_path / "moth" / "broken.png").write_bytes(b"not an image")
    name = f"folder:{tmp_path}"
    assert tfgen.data.class_names(name) == ("ant", "moth", "zebra")
    with pytest.warns(UserWarning, match="Skipped 1"):
        batches = list(
            tfgen.data.load(name, batch_size=4, seed=0, with_labels=True, drop_remainder=False)
        )
    images = np.concatenate([b[0].numpy() for b in batches])
    labels = np.concatenate([b[1].numpy() for b in batches])
    assert sorted(labels.tolist()) == [0, 0, 1, 1, 1, 1, 2, 2, 2]
    # Each image carries its class's grey level: 40 * (label + 1) of 255.
    np.testing.assert_allclose(
        images.mean(axis=(1, 2, 3)), 40 * (labels + 1) / 127.5 - 1, atol=1e-6
    )


def test_labelled_folder_refuses_loose_files(tmp_path):
    _write_class_folders(tmp_path, {"a": 2})
    Image.fromarray(np.zeros((SIDE, SIDE), np.uint8)).save(tmp_path / "loose.png")
    with pytest.raises(ValueError, match="one sub-folder per class"):
        tfgen.data.load(f"folder:{tmp_path}", batch_size=1, with_labels=True)
    with pytest.raises(ValueError, match="with_labels must be a bool"):
        tfgen.data.load(f"folder:{tmp_path}/a", batch_size=1, with_labels="yes")


def test_photos_label_is_their_only_class_feature():
    assert tfgen.data.class_names("photos/crop32") == ("china", "flower", "grace_hopper")


# --------------------------------------------------------------------------------------------
# The example script.


def test_train_gan_example_trains_a_conditional_augmented_gan(tmp_path):
    train_gan = sys.modules.get("train_gan")  # as tests/test_examples.py imports it
    if train_gan is None:
        path = os.path.join(os.path.dirname(__file__), "..", "examples", "train_gan.py")
        spec = importlib.util.spec_from_file_location("train_gan", path)
        train_gan = sys.modules["train_gan"] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(train_gan)
    result = train_gan.train(
        image_size=8,
        batch_size=8,
        latent_dim=4,
        base_filters=4,
        steps=2,
        epochs=1,
        samples=10,
        verbose=0,
        conditional=True,
        augment="color,translation,cutout",
        output_dir=str(tmp_path / "run"),
    )
    gan = result.model
    assert gan.num_classes == DIGIT_CLASSES and gan.augment == ("color", "translation", "cutout")
    # Scored during training on class-balanced samples (--eval_every's default).
    assert np.isfinite(result.history["fid"]).all()
    # One row per class: 10 rows of ceil(10 / 10) = 1 code.
    grid = tfgen.callbacks.SampleGrid(tmp_path, latent_batch=10)
    grid.set_model(gan)
    grid.on_train_begin()
    assert grid.columns == 1 and grid.images().shape[0] == DIGIT_CLASSES
    loaded = keras.saving.load_model(result.model_path, safe_mode=True)
    assert loaded.num_classes == DIGIT_CLASSES
    served = tf.saved_model.load(result.saved_model_dir)
    images = served.signatures["sample"](labels=tf.constant([1, 7]), seed=tf.constant(0, tf.int64))[
        "images"
    ]
    np.testing.assert_allclose(images, gan.generate(2, labels=[1, 7], seed=0), atol=1e-5)
