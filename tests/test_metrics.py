"""Tests of tfgen.metrics against closed forms and independent numpy/scipy/sklearn computations."""

import csv
import io
import os
import tarfile
import warnings

import keras
import numpy as np
import pytest
import scipy.linalg
import scipy.ndimage
import scipy.special
import tensorflow as tf
from scipy.spatial.distance import cdist
from sklearn.datasets import load_digits
from sklearn.metrics.pairwise import polynomial_kernel

import tfgen.metrics as tm
from tfgen import architectures, callbacks
from tfgen.metrics import features as feature_module
from tfgen.metrics import frechet as frechet_module
from tfgen.metrics.sliced_wasserstein import laplacian_pyramid
from tfgen.models import GAN

DIM = 8


def gaussian_features(n, dim=DIM, shift=0.0, scale=1.0, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n, dim)) * scale + shift).astype(np.float32)


def numpy_fid(a, b):
    """FID written out independently: np.cov, scipy's sqrtm, real part."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = np.real(scipy.linalg.sqrtm(cov_a @ cov_b))
    return float(np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a + cov_b - 2 * root))


def fed(metric, real, generated, batch=100):
    for start in range(0, max(len(real), len(generated)), batch):
        metric.update_state(real[start : start + batch], generated[start : start + batch])
    return metric


@pytest.fixture(scope="module")
def digits():
    """All 1,797 digits in [-1, 1], 8x8x1, as tfgen.data bundles them, in scikit-learn's order."""
    images = np.rint(load_digits().images * (255.0 / 16.0)).astype(np.uint8)[..., None]
    return images.astype(np.float32) / 127.5 - 1.0


@pytest.fixture(scope="module")
def split():
    """Indices of tfgen.data's digits splits, written out: 297 random test, 1,500 train."""
    order = np.random.default_rng(0).permutation(1797)
    return {"train": order[297:], "test": order[:297]}


# ---------------------------------------------------------------------------------------------
# Fréchet distance.


def test_frechet_distance_equals_closed_form_for_two_gaussians():
    # Covariances sharing eigenvectors Q: the trace term is sum (sqrt(a_i) - sqrt(b_i))^2.
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.standard_normal((DIM, DIM)))
    a, b = rng.uniform(0.5, 2.0, DIM), rng.uniform(0.5, 2.0, DIM)
    mu1, mu2 = rng.standard_normal(DIM), rng.standard_normal(DIM)
    sigma1, sigma2 = q @ np.diag(a) @ q.T, q @ np.diag(b) @ q.T
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    got = tm.frechet_distance(mu1, sigma1, mu2, sigma2)
    np.testing.assert_allclose(got, expected, rtol=1e-9)
    # The streaming metric on samples of the two Gaussians approaches it.
    n = 20_000
    real = rng.multivariate_normal(mu1, sigma1, n)
    generated = rng.multivariate_normal(mu2, sigma2, n)
    metric = fed(tm.FrechetDistance(feature_dim=DIM), real, generated, batch=5000)
    np.testing.assert_allclose(float(metric.result()), expected, rtol=0.03)


def test_frechet_distance_equals_numpy_scipy_computation():
    real, generated = gaussian_features(500), gaussian_features(400, shift=0.3, scale=1.2, seed=1)
    metric = fed(tm.FrechetDistance(), real, generated, batch=64)
    np.testing.assert_allclose(float(metric.result()), numpy_fid(real, generated), rtol=1e-6)


def test_frechet_distance_does_not_depend_on_the_batch_split():
    real, generated = gaussian_features(300), gaussian_features(300, shift=0.5, seed=1)
    whole = tm.FrechetDistance(feature_dim=DIM)
    whole.update_state(real, generated)
    split = tm.FrechetDistance(feature_dim=DIM)
    for start, stop in ((0, 7), (7, 100), (100, 300)):
        split.update_state(real[start:stop], generated[start:stop])
    np.testing.assert_allclose(float(split.result()), float(whole.result()), rtol=1e-10)
    split.reset_state()
    split.update_state(real[:50], generated[:50])
    np.testing.assert_allclose(float(split.result()), numpy_fid(real[:50], generated[:50]), 1e-6)


def test_frechet_distance_is_the_same_on_one_and_two_replicas(two_replicas):
    real, generated = gaussian_features(256), gaussian_features(256, shift=0.5, seed=1)
    pairs = tf.data.Dataset.from_tensor_slices((real, generated)).batch(64)
    results = []
    for strategy in (tf.distribute.get_strategy(), two_replicas):
        with strategy.scope():
            metric = tm.FrechetDistance(feature_dim=DIM)

        @tf.function
        def step(batch, metric=metric, strategy=strategy):
            strategy.run(metric.update_state, args=batch)

        for batch in strategy.experimental_distribute_dataset(pairs):
            step(batch)
        results.append(float(metric.result()))
    assert two_replicas.num_replicas_in_sync == 2
    np.testing.assert_allclose(results[1], results[0], rtol=1e-10)
    np.testing.assert_allclose(results[0], numpy_fid(real, generated), rtol=1e-6)


def test_frechet_trace_term_equals_scipy_sqrtm_of_the_product():
    rng = np.random.default_rng(4)
    for dim, rank in ((60, 60), (60, 20)):  # full rank, and both covariances singular
        a, b = (rng.standard_normal((dim, rank)) for _ in range(2))
        sigma1, sigma2 = a @ a.T / rank, b @ b.T / rank + np.diag(rng.uniform(0, 1e-9, dim))
        expected = np.trace(scipy.linalg.sqrtm(sigma1 @ sigma2).real)
        got = frechet_module.trace_sqrt_product(sigma1, sigma2)
        np.testing.assert_allclose(got, expected, rtol=1e-6)
    with pytest.raises(ValueError, match="sigma2 holds NaN"):
        tm.frechet_distance(np.zeros(2), np.eye(2), np.zeros(2), np.full((2, 2), np.nan))


def test_frechet_distance_warns_with_fewer_samples_than_dimensions():
    metric = tm.FrechetDistance()
    metric.update_state(gaussian_features(5), gaussian_features(5, seed=1))
    with pytest.warns(RuntimeWarning, match="fewer samples than dimensions"):
        value = float(metric.result())
    reference = numpy_fid(gaussian_features(5), gaussian_features(5, seed=1))
    np.testing.assert_allclose(value, reference, rtol=1e-6)


def test_frechet_distance_of_a_singular_product_is_finite_and_close_to_reference():
    # Two features that are copies of each other: both covariances are singular.
    real, generated = gaussian_features(200, 3), gaussian_features(200, 3, shift=1.0, seed=1)
    real, generated = (np.concatenate([x, x[:, :1]], axis=1) for x in (real, generated))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = tm.frechet_distance(
            real.mean(0),
            np.cov(real, rowvar=False),
            generated.mean(0),
            np.cov(generated, rowvar=False),
        )
        reference = numpy_fid(real, generated)
    assert np.isfinite(value)
    np.testing.assert_allclose(value, reference, rtol=1e-4)


def test_reference_statistics_file_replaces_the_real_images(tmp_path):
    real, generated = gaussian_features(300), gaussian_features(200, shift=0.4, seed=1)
    path = tmp_path / "real.npz"
    stats = tm.reference_statistics(real, None, path)
    np.testing.assert_allclose(stats["sigma"], np.cov(real.astype(np.float64), rowvar=False))
    fid = tm.FrechetDistance(reference=path)
    fid.update_state(None, generated)
    np.testing.assert_allclose(float(fid.result()), numpy_fid(real, generated), rtol=1e-6)
    kid = tm.KernelDistance(subsets=10, reference=path)
    kid.update_state(None, generated)
    direct = tm.KernelDistance(subsets=10)
    direct.update_state(real, generated)
    assert float(kid.result()["kid"]) == pytest.approx(float(direct.result()["kid"]), rel=1e-6)
    with pytest.raises(ValueError, match="real must be None"):
        fid.update_state(real, generated)
    with pytest.raises(ValueError, match="extractor"):
        tm.FrechetDistance(tm.digits_features(), reference=path)
    with pytest.raises(ValueError, match="does not exist"):
        tm.FrechetDistance(reference=tmp_path / "missing.npz")


# ---------------------------------------------------------------------------------------------
# KID, precision/recall, SWD, Inception score.


def sklearn_mmd(x, y):
    """Unbiased MMD² with sklearn's polynomial kernel (x·y / d + 1)³."""
    d, m = x.shape[1], len(x)
    kernel = dict(degree=3, gamma=1.0 / d, coef0=1)
    off_diagonal = ~np.eye(m, dtype=bool)
    k_xx, k_yy = polynomial_kernel(x, x, **kernel), polynomial_kernel(y, y, **kernel)
    k_xy = polynomial_kernel(x, y, **kernel)
    within = (k_xx[off_diagonal].sum() + k_yy[off_diagonal].sum()) / (m * (m - 1))
    return within - 2 * k_xy.mean()


def test_kernel_distance_equals_sklearn_computation_and_is_zero_for_one_distribution():
    real, generated = gaussian_features(200), gaussian_features(200, shift=0.5, seed=1)
    # One subset holding every sample: the estimate is the full unbiased MMD², and no spread.
    metric = fed(tm.KernelDistance(subset_size=200, subsets=10), real, generated, batch=64)
    expected = sklearn_mmd(real.astype(np.float64), generated.astype(np.float64))
    result = metric.result()
    np.testing.assert_allclose(float(result["kid"]), expected, rtol=1e-6)
    assert np.isnan(float(result["kid_std"]))
    same = fed(tm.KernelDistance(subset_size=100, subsets=50), real, gaussian_features(200, seed=2))
    result = {key: float(value) for key, value in same.result().items()}
    assert abs(result["kid"]) < 0.05 * expected and result["kid_std"] > 0


def test_kernel_distance_spread_is_over_subsets_that_differ():
    real, generated = gaussian_features(300), gaussian_features(200, shift=0.5, seed=1)
    # Default subsets: half the smaller side (100); the std is that of the subset estimates.
    mean, std = tm.kernel_distance(real, generated, subsets=20, seed=3)
    rng = np.random.default_rng(3)
    estimates = [
        sklearn_mmd(
            real[rng.choice(300, 100, replace=False)].astype(np.float64),
            generated[rng.choice(200, 100, replace=False)].astype(np.float64),
        )
        for _ in range(20)
    ]
    np.testing.assert_allclose([mean, std], [np.mean(estimates), np.std(estimates)], rtol=1e-6)
    assert std > 1e-3 * abs(mean)
    # One side drawn whole every time: the spread is the other side's, still a spread.
    assert tm.kernel_distance(real, generated, subset_size=200, subsets=5)[1] > 0
    assert np.isnan(tm.kernel_distance(real, generated, subset_size=150, subsets=1)[1])


def test_kernel_distance_refuses_too_few_samples_and_too_large_subsets():
    real, generated = gaussian_features(50), gaussian_features(40, seed=1)
    with pytest.raises(ValueError, match=r"subset_size=41 is larger than the samples \(50 real"):
        tm.kernel_distance(real, generated, subset_size=41)
    metric = fed(tm.KernelDistance(subset_size=1000), real, generated)
    with pytest.raises(ValueError, match="subset_size=1000 is larger"):
        metric.result()
    with pytest.raises(ValueError, match="at least 2 samples on each side, got 50 real and 1"):
        tm.kernel_distance(real, generated[:1])
    with pytest.raises(ValueError, match="subset_size must be None or at least 2"):
        tm.KernelDistance(subset_size=1)


def test_precision_recall_directions():
    real = gaussian_features(400)
    same = fed(tm.PrecisionRecall(), real, gaussian_features(400, seed=1)).result()
    assert float(same["precision"]) > 0.8 and float(same["recall"]) > 0.8
    far = fed(tm.PrecisionRecall(), real, gaussian_features(400, shift=50.0, seed=1)).result()
    assert float(far["precision"]) == 0.0 and float(far["recall"]) == 0.0
    # Mode collapse: samples from a small part of the real distribution.
    narrow = fed(tm.PrecisionRecall(), real, gaussian_features(400, scale=0.3, seed=1)).result()
    assert float(narrow["precision"]) > 0.9 and float(narrow["recall"]) < 0.3
    # Samples spread far beyond it: low precision, recall kept.
    wide = fed(tm.PrecisionRecall(), real, gaussian_features(400, scale=3.0, seed=1)).result()
    assert float(wide["precision"]) < 0.3 and float(wide["recall"]) > 0.8


def test_precision_recall_equals_brute_force():
    real, generated = gaussian_features(150, 4), gaussian_features(120, 4, shift=0.7, seed=1)
    k = 3

    def manifold_share(manifold, queries):
        radii = np.sort(cdist(manifold, manifold), axis=1)[:, k]
        return np.mean([np.any(np.linalg.norm(manifold - q, axis=1) <= radii) for q in queries])

    expected = manifold_share(real, generated), manifold_share(generated, real)
    got = tm.precision_recall(real, generated, k)
    np.testing.assert_allclose(got, expected)


def test_sliced_wasserstein_of_shifted_point_sets_equals_closed_form():
    # B = A + c: every projection moves by c·u, so SWD = |c| E|u_1| over unit vectors u.
    dim = 5
    a = gaussian_features(500, dim)
    c = np.full(dim, 0.5, np.float32)
    expected = (
        np.linalg.norm(c)
        * scipy.special.gamma(dim / 2)
        / (np.sqrt(np.pi) * scipy.special.gamma((dim + 1) / 2))
    )
    got = tm.sliced_wasserstein(a, a + c, directions=2000, repeats=4, rng=0)
    np.testing.assert_allclose(got, expected, rtol=0.03)


def test_laplacian_pyramid_adds_up_to_the_image():
    images = np.random.default_rng(0).uniform(-1, 1, (2, 32, 32, 3)).astype(np.float32)
    pyramid = laplacian_pyramid(images, 3)
    assert [level.shape[1] for level in pyramid] == [32, 16, 8]
    from tfgen.metrics.sliced_wasserstein import _pyramid_up

    rebuilt = pyramid[-1]
    for level in reversed(pyramid[:-1]):
        rebuilt = level + _pyramid_up(rebuilt)
    np.testing.assert_allclose(rebuilt, images, atol=1e-5)


def test_sliced_wasserstein_grows_with_a_shift_of_the_images(digits):
    real, other = (
        np.pad(part, ((0, 0), (4, 4), (4, 4), (0, 0)), constant_values=-1.0)
        for part in (digits[:400], digits[400:800])
    )
    rng = np.random.default_rng(0)
    values = []
    for amplitude in (0.0, 0.3, 1.0):
        shifted = np.clip(other + amplitude * rng.standard_normal(other.shape), -1, 1)
        metric = tm.SlicedWasserstein(patches_per_image=32, seed=1)
        metric.update_state(real, shifted.astype(np.float32))
        values.append(float(metric.result()))
    # Two samples of one distribution differ by sampling noise only.
    assert values[0] < values[1] < values[2] and 3 * values[0] < values[2]


def test_inception_score_equals_closed_forms():
    classes = 10
    confident = np.eye(classes)[np.arange(200) % classes]  # each class equally, with certainty
    got = tm.InceptionScore(None, splits=2)
    got.update_state(None, confident[:100])
    got.update_state(None, confident[100:])
    assert float(got.result()["inception_score"]) == pytest.approx(classes, rel=1e-9)
    undecided = tm.InceptionScore(None, splits=1)
    undecided.update_state(None, np.full((50, classes), 1.0 / classes))
    assert float(undecided.result()["inception_score"]) == pytest.approx(1.0)
    logits = tm.InceptionScore(None, splits=1, from_logits=True)
    logits.update_state(None, np.log(confident * 0.9 + 0.01))
    assert float(logits.result()["inception_score"]) == pytest.approx(
        tm.inception_score(confident * 0.9 + 0.01, 1)[0]
    )


# ---------------------------------------------------------------------------------------------
# Feature extractors.


def test_digits_extractor_orders_real_degraded_and_noise(digits, split):
    extractor = tm.digits_features()
    train, held_out = digits[split["train"]], digits[split["test"]]
    # A degraded copy of real digits (shifted by one pixel and blurred) stands in for a trained
    # GAN's samples: training one to that quality takes far longer than a test may.
    degraded = scipy.ndimage.gaussian_filter(np.roll(train, 1, axis=2), (0, 0.7, 0.7, 0))
    noise = np.random.default_rng(0).uniform(-1, 1, train.shape).astype(np.float32)
    scores = []
    for images in (held_out, degraded, noise):
        metric = tm.FrechetDistance(extractor)
        metric.update_state(train, images)
        scores.append(float(metric.result()))
    assert scores[0] * 3 < scores[1] and scores[1] * 2 < scores[2]
    # Other sizes are resized inside the extractor: 32x32 digits score like 8x8 ones.
    big = tf.image.resize(held_out, (32, 32), antialias=True).numpy()
    metric = tm.FrechetDistance(extractor)
    metric.update_state(train, big)
    assert float(metric.result()) < scores[1]


def test_digits_extractor_takes_batches_of_any_size_shape_and_an_empty_one(digits):
    """Calls of many batch sizes, image sizes and channel counts, empty batches among them, give
    the features of a fresh extractor called once per batch (TensorFlow's CPU convolution
    returns an empty batch unchanged, and a relaxed trace forgets the image shape)."""
    extractor = tm.digits_features()
    rgb = np.repeat(digits[:5], 3, axis=-1)
    big = tf.image.resize(digits[:9], (12, 12), antialias=True).numpy()
    for images in (digits[:64], digits[:8], digits[:0], big, rgb, digits[:0], digits[:3]):
        features = extractor(images).numpy()
        assert features.shape == (len(images), 64)
        if len(images):
            np.testing.assert_allclose(
                features, tm.digits_features()(images).numpy(), rtol=1e-5, atol=1e-5
            )


def test_digits_classifier_gives_probabilities(digits, split):
    probabilities = tm.digits_classifier()(digits[split["test"]]).numpy()
    np.testing.assert_allclose(probabilities.sum(1), 1.0, rtol=1e-5)
    accuracy = np.mean(probabilities.argmax(1) == load_digits().target[split["test"]])
    assert accuracy > 0.95


def test_digits_metrics_rank_real_blurred_and_noise_with_a_kid_floor_near_zero(digits, split):
    """The issue-26 instrument check on its cheap cases: 1,000 training digits against the 297
    held-out ones score a KID within its spread of 0 (two samples of one distribution), and
    FID and KID rank held-out real < blurred real < uniform noise by wide margins."""
    train, held_out = digits[split["train"][:1000]], digits[split["test"]]
    blurred = scipy.ndimage.gaussian_filter(held_out, (0, 1.0, 1.0, 0))
    noise = np.random.default_rng(0).uniform(-1, 1, held_out.shape).astype(np.float32)
    scores = {}
    for name, images in (("real", held_out), ("blurred", blurred), ("noise", noise)):
        fid, kid = tm.FrechetDistance(tm.digits_features()), tm.KernelDistance(tm.digits_features())
        for metric in (fid, kid):
            metric.update_state(train, images)
        scores[name] = (float(fid.result()), *(float(v) for v in kid.result().values()))
    (real_fid, real_kid, real_std), (blur_fid, blur_kid, _), (noise_fid, noise_kid, _) = (
        scores[name] for name in ("real", "blurred", "noise")
    )
    assert abs(real_kid) < 2 * real_std and abs(real_kid) < 0.05 * blur_kid
    assert real_fid * 5 < blur_fid < noise_fid and blur_kid < noise_kid


def stand_in_inception_graph(width=6):
    """A GraphDef with TTUR's tensor names: ExpandDims (1, ?, ?, 3) -> resize -> ... -> pool_3."""
    graph = tf.Graph()
    with graph.as_default():
        images = tf.compat.v1.placeholder(tf.float32, [1, None, None, 3], name="ExpandDims")
        resized = tf.compat.v1.image.resize_bilinear(images, [12, 12], name="ResizeBilinear")
        scaled = tf.multiply(tf.subtract(resized, 128.0), 1.0 / 128.0, name="Mul")
        weights = tf.constant(
            np.linspace(-1, 1, 3 * width, dtype=np.float32).reshape(1, 1, 3, width)
        )
        mixed = tf.nn.relu(tf.nn.conv2d(scaled, weights, 1, "SAME"))
        tf.nn.avg_pool2d(mixed, 12, 12, "VALID", name="pool_3")
    return graph.as_graph_def(), weights.numpy() if hasattr(weights, "numpy") else None


def stand_in_pool3(images_0_255, width=6):
    weights = np.linspace(-1, 1, 3 * width, dtype=np.float32).reshape(3, width)
    resized = tf.compat.v1.image.resize_bilinear(images_0_255, [12, 12]).numpy()
    return np.maximum(((resized - 128.0) / 128.0) @ weights, 0).mean(axis=(1, 2))


def test_inception_pool3_loads_a_stand_in_graph_from_pb_and_tgz(tmp_path):
    graph_def, _ = stand_in_inception_graph()
    pb = tmp_path / "classify_image_graph_def.pb"
    pb.write_bytes(graph_def.SerializeToString())
    archive = tmp_path / "inception-2015-12-05.tgz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(pb, arcname="classify_image_graph_def.pb")
    images = np.random.default_rng(0).uniform(-1, 1, (5, 20, 20, 1)).astype(np.float32)
    expected = stand_in_pool3(np.repeat((images + 1) * 127.5, 3, axis=-1))
    for path in (pb, archive):
        extractor = tm.inception_pool3(path, batch_size=2)
        assert extractor.feature_dim == 6
        np.testing.assert_allclose(extractor(images).numpy(), expected, rtol=1e-5, atol=1e-6)


def test_inception_loaders_name_the_missing_or_wrong_file(tmp_path):
    with pytest.raises(ValueError, match="inception-2015-12-05.tgz"):
        tm.inception_pool3(tmp_path / "missing.pb")
    wrong = tmp_path / "wrong.pb"
    wrong.write_bytes(tf.Graph().as_graph_def().SerializeToString())
    with pytest.raises(ValueError, match="has no tensor 'ExpandDims:0'"):
        tm.inception_pool3(wrong)
    with pytest.raises(ValueError, match="inception_v3_weights_tf_dim_ordering_tf_kernels_notop"):
        tm.inception_v3(tmp_path / "missing.h5")
    junk = tmp_path / "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"
    junk.write_bytes(b"not the weights")
    with pytest.raises(ValueError, match="bcbd6486424b2319ff4ef7d526e38f63"):
        tm.inception_v3(junk)
    with pytest.raises(ValueError, match="inception_pool3:PATH"):
        tm.feature_extractor("inception")


def test_any_keras_model_is_an_extractor_with_its_input_size():
    inputs = keras.Input((4, 4, 3))
    model = keras.Model(inputs, keras.layers.Flatten()(inputs))
    extractor = feature_module.as_feature_extractor(model)
    assert extractor.image_size == (4, 4) and extractor.feature_dim == 48
    images = np.random.default_rng(0).uniform(-1, 1, (3, 8, 8, 1)).astype(np.float32)
    assert extractor(images).shape == (3, 48)


# ---------------------------------------------------------------------------------------------
# Bad input.


def test_bad_input_gives_value_errors_that_say_what_was_expected(digits):
    with pytest.raises(ValueError, match="5 dimensions, expected 4"):
        tm.FrechetDistance(feature_dim=4).update_state(
            gaussian_features(3, 5), gaussian_features(3, 5)
        )
    extractor = tm.digits_features()
    with pytest.raises(ValueError, match=r"\(batch, height, width, channels\)"):
        tm.FrechetDistance(extractor).update_state(digits[0], digits[1])
    with pytest.raises(ValueError, match=r"\[-1, 1\].*got values in \[0, 255\]"):
        tm.KernelDistance(extractor).update_state(digits[:4], (digits[:4] + 1) * 127.5)
    nan = gaussian_features(4)
    nan[1, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        tm.PrecisionRecall().update_state(gaussian_features(4), nan)
    kid = tm.KernelDistance()
    kid.update_state(gaussian_features(4), gaussian_features(4))
    with pytest.raises(ValueError, match="do not match"):
        kid.update_state(gaussian_features(4, 5), gaussian_features(4, 5))
    with pytest.raises(ValueError, match="subset_size"):
        tm.KernelDistance(subset_size=0)
    with pytest.raises(ValueError, match="k must be"):
        tm.PrecisionRecall(k=0)
    with pytest.raises(ValueError, match="patch_size"):
        tm.SlicedWasserstein().update_state(digits[:2, :4, :4], digits[:2, :4, :4])
    with pytest.raises(ValueError, match="sum to 1"):
        tm.inception_score(np.ones((10, 3)), 1)


# ---------------------------------------------------------------------------------------------
# Use during and after training.


def tiny_gan(seed=0):
    keras.utils.set_random_seed(seed)
    return GAN(
        architectures.dcgan_generator((8, 8, 1), 8, 8),
        architectures.dcgan_discriminator((8, 8, 1), 8),
        seed=seed,
    )


@pytest.mark.slow
def test_evaluate_generator_scores_a_gan_its_keras_file_and_its_saved_model(digits, tmp_path):
    import tfgen.export

    gan = tiny_gan()
    gan.compile(generator_ema=0.9)
    gan.fit(tf.data.Dataset.from_tensor_slices(digits[:64]).batch(32), epochs=1, verbose=0)
    extractor = tm.digits_features()

    def metrics():
        return [
            tm.FrechetDistance(extractor),
            tm.KernelDistance(extractor, subsets=5),
            tm.PrecisionRecall(extractor),
        ]

    direct = tm.evaluate_generator(gan, digits[1500:], metrics(), num_samples=200, batch_size=64)
    assert set(direct) == {"fid", "kid", "kid_std", "precision", "recall"}
    gan.save(tmp_path / "gan.keras")
    tfgen.export.export_generator(gan, str(tmp_path / "saved_model"))
    for path in (tmp_path / "gan.keras", tmp_path / "saved_model"):
        loaded = tm.evaluate_generator(
            str(path), digits[1500:], metrics(), 200, batch_size=64, trust_saved_model=True
        )
        for key, value in direct.items():
            assert loaded[key] == pytest.approx(value, rel=1e-3, abs=1e-5), (path, key)
    # The dataset by name, at the generator's size; the EMA generator is the one scored.
    named = tm.evaluate_generator(gan, "digits", [tm.FrechetDistance(extractor)], 100)
    assert np.isfinite(named["fid"])
    with pytest.raises(ValueError, match="SavedModel"):
        tm.evaluate_generator(str(tmp_path), digits)


def test_evaluate_generator_callback_logs_into_history_csv_and_tensorboard(digits, tmp_path):
    gan = tiny_gan()
    gan.compile()
    evaluate = callbacks.EvaluateGenerator(
        [tm.FrechetDistance(tm.digits_features()), tm.SlicedWasserstein(patches_per_image=8)],
        digits[1500:],
        every_n_epochs=3,
        num_samples=100,
        tensorboard_dir=tmp_path / "logs",
    )
    history_file = tmp_path / "history.csv"
    history = gan.fit(
        tf.data.Dataset.from_tensor_slices(digits[:64]).batch(32),
        epochs=4,
        verbose=0,
        callbacks=[evaluate, keras.callbacks.CSVLogger(str(history_file))],
    )
    # The first epoch (so that CSVLogger learns the columns), every third and the last.
    assert [epoch for epoch, _ in evaluate.evaluated] == [1, 3, 4]
    assert len(history.history["fid"]) == 3 and len(history.history["swd"]) == 3
    rows = list(csv.DictReader(io.StringIO(history_file.read_text())))
    assert [row["fid"] for row in rows][1] == "NA"
    fid = [float(rows[epoch - 1]["fid"]) for epoch in (1, 3, 4)]
    assert fid == pytest.approx(history.history["fid"], rel=1e-6)
    assert any(name.startswith("events") for name in os.listdir(tmp_path / "logs" / "evaluation"))
    with pytest.raises(ValueError, match="every_n_epochs"):
        callbacks.EvaluateGenerator([tm.SlicedWasserstein()], digits, every_n_epochs=0)


def test_evaluate_generator_callback_logs_each_score_beside_its_floor(digits, split):
    gan = tiny_gan()
    gan.compile()
    real = digits[split["train"][:300]]
    flat = real.reshape(len(real), -1)

    def pixels(images):
        return tf.reshape(images, [tf.shape(images)[0], -1])

    evaluate = callbacks.EvaluateGenerator(
        [tm.FrechetDistance(pixels, feature_dim=64), tm.KernelDistance(pixels)],
        real,
        num_samples=150,
        floor=True,
    )
    dataset = tf.data.Dataset.from_tensor_slices(real[:64]).batch(32)
    history = gan.fit(dataset, epochs=2, verbose=0, callbacks=[evaluate]).history
    # Real against real: the first 150 images are the reference, the next 150 the floor's.
    assert history["fid_floor"][0] == pytest.approx(numpy_fid(flat[:150], flat[150:]), rel=1e-6)
    kid = fed(tm.KernelDistance(), flat[:150], flat[150:])
    assert history["kid_floor"][0] == pytest.approx(float(kid.result()["kid"]), rel=1e-6)
    assert "kid_std_floor" not in history and np.isfinite(history["kid_std"][0])
    assert history["fid_floor"][1] == history["fid_floor"][0] < history["fid"][1]
    too_many = callbacks.EvaluateGenerator([tm.FrechetDistance(pixels)], real, 2, 200, floor=True)
    too_many.set_model(gan)
    with pytest.raises(ValueError, match=r"needs 400 real images .* got 300; .* at most 150"):
        too_many.evaluate()
    with pytest.raises(ValueError, match="floor=True needs real images"):
        callbacks.EvaluateGenerator([tm.FrechetDistance(pixels)], None, floor=True)


def test_evaluate_example_prints_each_score_beside_its_floor(tmp_path):
    """examples/evaluate.py with its default flags (the digits, 10,000 samples asked for): the
    floor takes half the 1,500 training digits, so 750 against 750, and says so."""
    import subprocess
    import sys

    path = tmp_path / "gan.keras"
    gan = tiny_gan()
    gan.compile()
    gan.save(path)
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([repo, os.environ.get("PYTHONPATH", "")]))
    done = subprocess.run(
        [sys.executable, os.path.join(repo, "examples", "evaluate.py"), f"--model={path}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "750 generated images against 750 real ones; floor: 750 other real" in done.stdout
    lines = {line.split()[0]: line.split() for line in done.stdout.splitlines()[2:]}
    assert set(lines) == {"fid", "kid", "kid_std", "precision", "recall"}
    fid, fid_floor = float(lines["fid"][1]), float(lines["fid"][-1])
    assert 0 < fid_floor < fid  # An untrained generator is far from real digits.
    assert "floor" not in " ".join(lines["kid_std"])
