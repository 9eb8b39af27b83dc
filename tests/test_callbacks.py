"""Tests of tfgen.callbacks: sample grids, TerminateOnNaN on any metric, SafeCheckpoint."""

import hashlib
import json
import os

import keras
import matplotlib.image as mpimg
import numpy as np
import pytest
import tensorflow as tf

from tfgen import callbacks, corruptions
from tfgen.architectures import conv_decoder, conv_encoder, dcgan_discriminator, dcgan_generator
from tfgen.models import GAN
from tfgen.models.autoencoder import Autoencoder

# PNG pixels are 8-bit: a value comes back within one level.
TOLERANCE = 1.01 / 255.0


def _digest(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


class _Scripted(keras.Model):
    """Logs a value that becomes NaN at a chosen step, and no "loss" key (like a GAN)."""

    def __init__(self, nan_at_step):
        super().__init__()
        self.dense = keras.layers.Dense(1)
        self.nan_at_step = nan_at_step
        self.steps_run = keras.Variable(0, dtype="int64", trainable=False)

    def call(self, x):
        return self.dense(x)

    def train_step(self, data):
        self.steps_run.assign_add(1)
        bad = self.steps_run >= self.nan_at_step
        return {
            "d_loss": tf.where(bad, tf.constant(np.nan), tf.constant(1.0)),
            "g_loss": tf.constant(0.5),
        }


def _batches(n):
    return tf.data.Dataset.from_tensor_slices(np.zeros((n, 3), np.float32)).batch(1)


def test_terminate_on_nan_stops_on_any_metric(capsys):
    model = _Scripted(nan_at_step=3)
    model(np.zeros((1, 3), np.float32))
    model.compile(optimizer="sgd")
    terminate = callbacks.TerminateOnNaN()
    keras_own = keras.callbacks.TerminateOnNaN()
    model.fit(_batches(10), epochs=2, callbacks=[keras_own, terminate], verbose=0)
    # Keras' callback watches only "loss"; this one stopped after the third batch (index 2).
    assert int(model.steps_run.numpy()) == 3
    assert terminate.stopped["epoch"] == 1 and terminate.stopped["batch"] == 2
    assert terminate.stopped["metric"] == "d_loss" and np.isnan(terminate.stopped["value"])
    printed = capsys.readouterr().out
    assert "d_loss = nan at epoch 1, batch 2" in printed and "terminating" in printed


def test_terminate_on_nan_can_raise():
    model = _Scripted(nan_at_step=2)
    model(np.zeros((1, 3), np.float32))
    model.compile(optimizer="sgd")
    with pytest.raises(RuntimeError, match="d_loss = nan at epoch 1, batch 1"):
        model.fit(_batches(5), callbacks=[callbacks.TerminateOnNaN(raise_error=True)], verbose=0)


def test_terminate_on_nan_checks_epoch_logs_and_ignores_text():
    terminate = callbacks.TerminateOnNaN()
    terminate.set_model(keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)]))
    terminate.on_epoch_begin(0)
    terminate.on_train_batch_end(0, {"loss": 1.0, "name": "text"})
    assert terminate.stopped is None
    terminate.on_epoch_end(0, {"loss": 1.0, "val_psnr": float("inf")})
    assert terminate.stopped == dict(epoch=1, batch=None, metric="val_psnr", value=float("inf"))
    assert terminate.model.stop_training


def _regression_model():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    return model


def test_safe_checkpoint_saves_atomically_and_skips_non_finite(tmp_path):
    path = tmp_path / "ckpt" / "model.keras"
    checkpoint = callbacks.SafeCheckpoint(path)
    model = _regression_model()
    x, y = np.ones((4, 2), np.float32), np.ones((4, 1), np.float32)
    model.fit(x, y, epochs=1, callbacks=[checkpoint], verbose=0)
    assert checkpoint.saved == [1] and os.listdir(path.parent) == ["model.keras"]
    good = _digest(path)
    good_weights = [w.copy() for w in model.get_weights()]

    # A NaN in a logged value: skipped, with a warning; the file is untouched.
    with pytest.warns(RuntimeWarning, match="loss = nan; not saving"):
        assert not checkpoint.save(2, {"loss": float("nan")})
    # A NaN in a weight (the logs look fine): skipped too.
    model.layers[0].kernel.assign(np.full((2, 1), np.nan, np.float32))
    with pytest.warns(RuntimeWarning, match="kernel is not finite"):
        checkpoint.on_epoch_end(2, {"loss": 0.1})
    assert checkpoint.skipped == [2, 3]
    assert _digest(path) == good and os.listdir(path.parent) == ["model.keras"]
    restored = keras.saving.load_model(path, safe_mode=True)
    for a, b in zip(restored.get_weights(), good_weights):
        np.testing.assert_array_equal(a, b)


def test_safe_checkpoint_checks_optimizer_state(tmp_path):
    checkpoint = callbacks.SafeCheckpoint(tmp_path / "m.keras")
    model = _regression_model()
    model.fit(np.ones((2, 2)), np.ones((2, 1)), epochs=1, verbose=0)
    checkpoint.set_model(model)
    slot = next(v for v in model.optimizer.variables if len(v.shape) == 2)
    slot.assign(np.full(slot.shape, np.inf, np.float32))
    with pytest.warns(RuntimeWarning, match="is not finite"):
        assert not checkpoint.save(1, {"loss": 0.0})
    assert not (tmp_path / "m.keras").exists()


def test_a_failed_save_leaves_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "m.keras"
    model = _regression_model()
    callbacks.save_atomically(model, path)
    before = _digest(path)

    def broken_save(filepath, **kwargs):
        with open(filepath, "wb") as file:
            file.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(model, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        callbacks.save_atomically(model, path)
    assert _digest(path) == before and os.listdir(tmp_path) == ["m.keras"]


def test_safe_checkpoint_rejects_bad_arguments():
    with pytest.raises(ValueError, match="ending in '.keras'"):
        callbacks.SafeCheckpoint("model.h5")
    with pytest.raises(ValueError, match="every_n_epochs must be a positive int, got 0"):
        callbacks.SafeCheckpoint("m.keras", every_n_epochs=0)


@pytest.fixture(scope="module")
def tiny_gan():
    keras.utils.set_random_seed(0)
    gan = GAN(
        dcgan_generator((8, 8, 1), latent_dim=4, base_filters=4),
        dcgan_discriminator((8, 8, 1), base_filters=4),
        seed=0,
    )
    gan.compile(generator_ema=0.5)
    return gan


def test_sample_grids_of_fixed_codes(tmp_path, tiny_gan):
    every_epoch = callbacks.SampleGrid(tmp_path / "a", latent_batch=4, seed=3)
    every_other = callbacks.SampleGrid(tmp_path / "b", every_n_epochs=2, latent_batch=5)
    images = np.random.default_rng(0).uniform(-1, 1, (2, 8, 8, 1)).astype(np.float32)
    tiny_gan.fit(
        tf.data.Dataset.from_tensor_slices(images).batch(2).repeat(),
        epochs=3,
        steps_per_epoch=1,
        callbacks=[every_epoch, every_other],
        verbose=0,
    )
    assert sorted(os.listdir(tmp_path / "a" / "samples")) == [
        "epoch_001.png",
        "epoch_002.png",
        "epoch_003.png",
    ]
    # Every second epoch, and the last one at the end of training.
    assert sorted(os.listdir(tmp_path / "b" / "samples")) == ["epoch_002.png", "epoch_003.png"]
    png = mpimg.imread(tmp_path / "a" / "samples" / "epoch_003.png")
    # 4 images of 8 x 8 at scale 8 in 2 columns: 2 * 64 + 3 * 2 = 134 square, plus the title.
    assert png.shape[:2] == (28 + 134, 134)
    # The codes are those of GAN.generate(4, seed=3), drawn by the EMA generator.
    expected = tiny_gan.generate(4, seed=3)
    for i in range(4):
        row, column = divmod(i, 2)
        top, left = 28 + 2 + row * 66, 2 + column * 66
        tile = png[top : top + 64 : 8, left : left + 64 : 8, 0]
        np.testing.assert_allclose(tile, expected[i, ..., 0], atol=TOLERANCE)


def test_sample_grid_takes_given_codes_and_checks_them(tmp_path, tiny_gan):
    codes = np.random.default_rng(1).normal(size=(3, 4)).astype(np.float32)
    grid = callbacks.SampleGrid(tmp_path, latent_batch=codes)
    grid.set_model(tiny_gan)
    grid.on_train_begin()
    expected = (np.asarray(tiny_gan.sampling_generator(codes)) + 1) / 2
    np.testing.assert_allclose(grid.images(), np.clip(expected, 0, 1), atol=1e-6)
    wrong = callbacks.SampleGrid(tmp_path, latent_batch=np.zeros((3, 5)))
    wrong.set_model(tiny_gan)
    with pytest.raises(ValueError, match=r"codes of shape \(5,\) but the generator takes \(4,\)"):
        wrong.on_train_begin()
    with pytest.raises(ValueError, match="latent_batch must be None, a positive int"):
        callbacks.SampleGrid(tmp_path, latent_batch=0)
    with pytest.raises(ValueError, match="every_n_epochs must be a positive int, got 0"):
        callbacks.SampleGrid(tmp_path, every_n_epochs=0)


def test_sample_grid_skips_non_finite_images(tmp_path):
    generator = dcgan_generator((8, 8, 1), latent_dim=2, base_filters=2)
    generator.get_layer("to_image").kernel.assign(
        np.full(generator.get_layer("to_image").kernel.shape, np.nan, np.float32)
    )
    holder = keras.Model(generator.inputs, generator.outputs)
    holder.generator = generator
    grid = callbacks.SampleGrid(tmp_path, latent_batch=2)
    grid.set_model(holder)
    grid.on_train_begin()
    with pytest.warns(RuntimeWarning, match="not finite"):
        assert grid.write(1) is None
    assert not (tmp_path / "samples").exists()


def test_reconstruction_grid_rows(tmp_path):
    keras.utils.set_random_seed(0)
    model = Autoencoder(
        conv_encoder((8, 8, 1), 4, base_filters=4),
        conv_decoder(4, (8, 8, 1), base_filters=4),
        corruption=corruptions.GaussianNoise(0.5),
        seed=0,
    )
    model.compile()
    clean = np.random.default_rng(2).uniform(-1, 1, (3, 8, 8, 1)).astype(np.float32)
    grid = callbacks.ReconstructionGrid(tmp_path, clean, seed=5)
    model.fit(clean, epochs=1, batch_size=3, callbacks=[grid], verbose=0)
    png = mpimg.imread(tmp_path / "samples" / "epoch_001.png")
    # Three rows (clean, input, reconstruction) of 3 images of 64 pixels: 3 * 64 + 4 * 2 = 200.
    assert png.shape[:2] == (28 + 200, 200)
    rows = grid.images()
    noisy = np.asarray(corruptions.GaussianNoise(0.5)(clean, seed=5))
    np.testing.assert_allclose(rows[:3], (clean + 1) / 2, atol=1e-6)
    np.testing.assert_allclose(rows[3:6], (noisy + 1) / 2, atol=1e-6)
    restored = np.clip((np.asarray(model(noisy)) + 1) / 2, 0, 1)
    np.testing.assert_allclose(rows[6:], restored, atol=1e-6)
    top, left = 28 + 2 + 2 * 66, 2
    np.testing.assert_allclose(
        png[top : top + 64 : 8, left : left + 64 : 8, 0], restored[0, ..., 0], atol=TOLERANCE
    )
    with pytest.raises(ValueError, match=r"lie in \[-1, 1\]"):
        callbacks.ReconstructionGrid(tmp_path, clean + 3)


@pytest.mark.parametrize(
    "tf_config, chief",
    [
        (None, True),
        ({"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 0}}, True),
        ({"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 1}}, False),
        (
            {
                "cluster": {"chief": ["c:1"], "worker": ["a:1"]},
                "task": {"type": "worker", "index": 0},
            },
            False,
        ),
        ({"cluster": {"chief": ["c:1"]}, "task": {"type": "chief", "index": 0}}, True),
    ],
)
def test_only_the_chief_writes(monkeypatch, tf_config, chief):
    if tf_config is None:
        monkeypatch.delenv("TF_CONFIG", raising=False)
    else:
        monkeypatch.setenv("TF_CONFIG", json.dumps(tf_config))
    assert callbacks.is_chief() is chief


def _trained_model():
    """A small model with an optimizer that has taken steps (slots and counters non-zero)."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer=keras.optimizers.Adam(0.1), loss="mse")
    x = np.random.default_rng(0).normal(size=(8, 3)).astype(np.float32)
    model.fit(x, np.zeros((8, 2), np.float32), epochs=1, verbose=0)
    return model, x


def _state(model):
    return [np.array(v) for v in callbacks.training_variables(model)]


def _backup_twice(model, x, directory):
    """Backs up, trains one more step, backs up again; returns both states."""
    backup = callbacks.StepBackup(directory)
    backup.set_model(model)
    assert backup.save()
    first = _state(model)
    model.fit(x, np.zeros((8, 2), np.float32), epochs=1, verbose=0)
    assert backup.save()
    return first, _state(model)


def test_step_backup_restores_weights_slots_and_counters(tmp_path):
    model, x = _trained_model()
    _, latest = _backup_twice(model, x, tmp_path)
    assert sorted(os.listdir(tmp_path)) == list(sorted(callbacks.BACKUP_FILES))
    for variable in callbacks.training_variables(model):
        variable.assign(np.zeros(variable.shape, variable.dtype))
    assert callbacks.StepBackup.restore(tmp_path, model) == 0
    names = [v.path for v in callbacks.training_variables(model)]
    assert any("iteration" in n for n in names) and any("momentum" in n for n in names)
    for restored, saved in zip(_state(model), latest):
        np.testing.assert_array_equal(restored, saved)
    assert int(model.optimizer.iterations) == 2


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_a_damaged_backup_is_never_loaded_and_the_previous_one_is(tmp_path, damage):
    model, x = _trained_model()
    previous, _ = _backup_twice(model, x, tmp_path)
    latest = tmp_path / "state.npz"
    data = bytearray(latest.read_bytes())
    if damage == "truncate":
        data = data[: len(data) // 2]
    else:  # One flipped bit in the stored arrays: the checksum catches it.
        data[len(data) // 3] ^= 0x01
    latest.write_bytes(bytes(data))
    with pytest.warns(RuntimeWarning, match="state.npz is (truncated or )?corrupt"):
        callbacks.StepBackup.restore(tmp_path, model)
    for restored, saved in zip(_state(model), previous):
        np.testing.assert_array_equal(restored, saved)
    (tmp_path / "previous.npz").write_bytes(b"")
    with (
        pytest.warns(RuntimeWarning),
        pytest.raises(ValueError, match="No intact backup to resume from .*--overwrite"),
    ):
        callbacks.StepBackup.restore(tmp_path, model)


def test_a_failed_backup_keeps_the_last_good_one(tmp_path, monkeypatch):
    model, x = _trained_model()
    backup = callbacks.StepBackup(tmp_path)
    backup.set_model(model)
    backup.save()
    good = _digest(tmp_path / "state.npz")

    def disk_full(*args, **kwargs):
        raise OSError("No space left on device")

    monkeypatch.setattr(np, "savez", disk_full)
    with pytest.raises(OSError, match="No space left"):
        backup.save()
    assert os.listdir(tmp_path) == ["state.npz"]  # No staging file left behind.
    assert _digest(tmp_path / "state.npz") == good


def test_a_backup_of_another_model_is_refused(tmp_path):
    model, x = _trained_model()
    _backup_twice(model, x, tmp_path)
    other = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    other.compile(optimizer="adam", loss="mse")
    other.optimizer.build(other.trainable_variables)
    with pytest.raises(ValueError, match="holds the state of another model"):
        callbacks.StepBackup.restore(tmp_path, other)


def test_a_non_finite_state_is_not_backed_up(tmp_path):
    model, _ = _trained_model()
    model.layers[0].kernel.assign(np.full((3, 2), np.nan, np.float32))
    backup = callbacks.StepBackup(tmp_path)
    backup.set_model(model)
    with pytest.warns(RuntimeWarning, match="is not finite; not backing up"):
        assert not backup.save()
    assert os.listdir(tmp_path) == []
