"""tfgen._files: every atomic write goes through `replaced_atomically` and its one temp pattern."""

import contextlib
import fnmatch
import hashlib
import json
import os

import keras
import matplotlib.figure
import numpy as np
import pytest
import tensorflow as tf

from tfgen import _files, callbacks, export, plot, runs
from tfgen.architectures import dcgan_generator
from tfgen.metrics import statistics, train_digits
from tfgen.stylize import StylizeResult, save_result


def _tree(folder):
    """{relative path: SHA-256} of every file under `folder` (names only for directories)."""
    found = {}
    for root, directories, names in os.walk(folder):
        for name in directories:
            found[os.path.relpath(os.path.join(root, name), folder) + "/"] = None
        for name in names:
            with open(os.path.join(root, name), "rb") as file:
                digest = hashlib.sha256(file.read()).hexdigest()
            found[os.path.relpath(os.path.join(root, name), folder)] = digest
    return found


def _failing(write_partial):
    """A writer that leaves half a file at its path argument, then fails like a full disk."""

    def writer(*args, **kwargs):
        write_partial(*args, **kwargs)
        raise OSError("disk full")

    return writer


@pytest.fixture
def spy(monkeypatch):
    """Records the (path, temporary) of every `replaced_atomically` block, checking the name."""
    real, calls = _files.replaced_atomically, []

    def recording(path, *args, **kwargs):
        with real(path, *args, **kwargs) as staging:
            calls.append((os.path.abspath(os.fspath(path)), staging))
            assert fnmatch.fnmatch(os.path.basename(staging), _files.STAGING_PATTERN)
            yield staging

    monkeypatch.setattr(_files, "replaced_atomically", contextlib.contextmanager(recording))
    return calls


def test_a_complete_write_replaces_the_file(tmp_path):
    path = tmp_path / "a" / "b.txt"  # Missing directories are created.
    for text in ("first", "second"):
        with _files.replaced_atomically(path) as staging:
            assert os.path.dirname(staging) == str(path.parent)
            name = os.path.basename(staging)
            assert name.startswith(".b.txt.tmp-") and name.endswith(".txt")
            assert fnmatch.fnmatch(name, _files.STAGING_PATTERN)
            with open(staging, "w") as file:
                file.write(text)
            assert path.exists() == (text == "second")
        assert path.read_text() == text and os.listdir(path.parent) == ["b.txt"]


def test_a_failed_write_leaves_the_previous_file_and_no_temporary(tmp_path):
    path = tmp_path / "m.weights.h5"
    path.write_bytes(b"good")
    with pytest.raises(OSError, match="disk full"):
        with _files.replaced_atomically(path, suffix=".weights.h5") as staging:
            assert staging.endswith(".weights.h5")
            _failing(lambda p: open(p, "wb").write(b"half"))(staging)
    assert path.read_bytes() == b"good" and os.listdir(tmp_path) == ["m.weights.h5"]
    with pytest.raises(KeyboardInterrupt):  # An interrupt, too, removes the temporary.
        with _files.replaced_atomically(path):
            raise KeyboardInterrupt
    assert os.listdir(tmp_path) == ["m.weights.h5"]


def test_previous_keeps_the_replaced_file(tmp_path):
    latest, previous = tmp_path / "state.npz", tmp_path / "previous.npz"
    for text in ("one", "two", "three"):
        with _files.replaced_atomically(latest, previous=previous, durable=True) as staging:
            with open(staging, "w") as file:
                file.write(text)
    assert latest.read_text() == "three" and previous.read_text() == "two"
    with pytest.raises(OSError):
        with _files.replaced_atomically(latest, previous=previous) as staging:
            raise OSError("disk full")
    assert latest.read_text() == "three" and previous.read_text() == "two"
    assert sorted(os.listdir(tmp_path)) == ["previous.npz", "state.npz"]


def test_a_directory_is_swapped_in_whole(tmp_path):
    path = tmp_path / "saved_model"
    with _files.replaced_atomically(path, directory=True) as staging:
        assert os.path.isdir(staging) and not os.listdir(staging)
        (tmp_path / staging / "a").write_text("1")
    with _files.replaced_atomically(path, directory=True) as staging:
        (tmp_path / staging / "b").write_text("2")
    assert os.listdir(path) == ["b"] and os.listdir(tmp_path) == ["saved_model"]
    with pytest.raises(OSError, match="disk full"):
        with _files.replaced_atomically(path, directory=True) as staging:
            (tmp_path / staging / "c").write_text("half")
            raise OSError("disk full")
    assert os.listdir(path) == ["b"] and os.listdir(tmp_path) == ["saved_model"]


def test_remove_leftovers_deletes_what_a_killed_write_left_and_nothing_else(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / ".hidden").write_text("mine")
    killed, managers = [], []  # The managers are kept: collecting one would close it.
    for path, directory in ((tmp_path / "m.keras", False), (tmp_path / "export", True)):
        managers.append(_files.replaced_atomically(path, directory=directory))
        killed.append(os.path.basename(managers[-1].__enter__()))  # Never exited: a SIGKILL.
    assert _files.leftovers(tmp_path) == sorted(killed)
    assert _files.remove_leftovers(tmp_path) == sorted(killed)
    assert sorted(os.listdir(tmp_path)) == [".hidden", "notes.txt"]
    assert _files.leftovers(tmp_path / "missing") == []


def _regression_model():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(np.ones((4, 2), np.float32), np.ones((4, 1), np.float32), epochs=1, verbose=0)
    return model


def _write_checkpoint(folder, monkeypatch, fail):
    model = _regression_model()
    if fail:
        broken = _failing(lambda filepath, **kwargs: open(filepath, "wb").write(b"half"))
        monkeypatch.setattr(model, "save", broken)
    callbacks.save_atomically(model, folder / "m.keras")


def _write_backup(folder, monkeypatch, fail):
    model = _regression_model()
    backup = callbacks.StepBackup(folder / "backup")
    backup.set_model(model)
    if fail:
        monkeypatch.setattr(np, "savez", _failing(lambda file, **arrays: file.write(b"half")))
    backup.save()


def _write_grid(folder, monkeypatch, fail):
    if fail:
        broken = _failing(lambda self, path, **kwargs: open(path, "wb").write(b"half"))
        monkeypatch.setattr(matplotlib.figure.Figure, "savefig", broken)
    plot.image_grid(np.zeros((2, 4, 4, 1)), folder / "grid.png")


def _write_statistics(folder, monkeypatch, fail):
    if fail:
        monkeypatch.setattr(np, "savez", _failing(lambda file, **arrays: file.write(b"half")))
    statistics._save_npz_atomically(folder / "reference.npz", {"mu": np.zeros(3)})


def _write_config(folder, monkeypatch, fail):
    if fail:
        monkeypatch.setattr(json, "dump", _failing(lambda value, file, **kw: file.write("{")))
    runs.Run(folder, {"a": 1}, "model.keras", resume=True).prepare()


def _write_stylized(folder, monkeypatch, fail):
    image = np.full((4, 4, 3), 0.5, np.float32)
    result = StylizeResult(image, np.array([2.0, 1.0]), 2, image[None], np.array([2]))
    if fail:
        monkeypatch.setattr(json, "dump", _failing(lambda value, file, **kw: file.write("{")))
    save_result(result, folder, {"task": "texture"})


def _write_digits_weights(folder, monkeypatch, fail):
    # Determinism would stay on for the rest of the session: this test needs no fixed ops.
    monkeypatch.setattr(tf.config.experimental, "enable_op_determinism", lambda: None)
    monkeypatch.setattr(keras.Model, "fit", lambda self, *args, **kwargs: None)  # Saving only.
    if fail:
        broken = _failing(lambda self, path, **kwargs: open(path, "wb").write(b"half"))
        monkeypatch.setattr(keras.Model, "save_weights", broken)
    train_digits.train(str(folder / "digits.weights.h5"), epochs=1)


def _write_export(folder, monkeypatch, fail):
    keras.utils.set_random_seed(1)
    generator = dcgan_generator((8, 8, 1), latent_dim=3, base_filters=2)
    if fail:
        real_save = tf.saved_model.save
        broken = _failing(
            lambda obj, export_dir, *args, **kw: real_save(obj, export_dir, *args, **kw)
        )
        monkeypatch.setattr(tf.saved_model, "save", broken)
    export.export_generator(generator, folder / "saved_model")


WRITERS = {
    "export": (_write_export, "saved_model"),
    "save_atomically": (_write_checkpoint, "m.keras"),
    "StepBackup": (_write_backup, "backup/state.npz"),
    "plot": (_write_grid, "grid.png"),
    "reference statistics": (_write_statistics, "reference.npz"),
    "Run config": (_write_config, "config.json"),
    "stylize save_result": (_write_stylized, "settings.json"),
    "train_digits": (_write_digits_weights, "digits.weights.h5"),
}


@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_each_writer_goes_through_the_helper_and_survives_a_failed_write(
    writer, tmp_path, monkeypatch, spy
):
    write, target = WRITERS[writer]
    write(tmp_path, monkeypatch, fail=False)
    assert os.path.join(tmp_path, target) in [path for path, _ in spy]
    before = _tree(tmp_path)
    assert not _files.leftovers(os.path.dirname(os.path.join(tmp_path, target)))
    with monkeypatch.context() as patch:
        with pytest.raises(OSError, match="disk full"):
            write(tmp_path, patch, fail=True)
    assert _tree(tmp_path) == before  # The last good file, and no temporary beside it.
