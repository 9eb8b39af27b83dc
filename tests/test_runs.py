"""tfgen.runs: settings as flags, the output folder's rules, history, factories from names."""

import dataclasses
import json
import logging
import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from absl import flags

from tfgen import optimizers, runs
from tfgen.models import gan as gan_model
from tfgen.runs import setting


@dataclasses.dataclass
class Settings(runs.TrainingSettings):
    epochs: int = 3  # Redeclared: the base's help, this default.
    width: float = setting(0.5, "Width.")
    mode: str = setting("a", "Mode.", choices=("a", "b"))
    name: str | None = setting(None, "Name.", kind=str)
    verbose: int = 0


def test_settings_become_flags_and_back():
    values = flags.FlagValues()
    runs.define_flags(Settings, values)
    values(["prog", "--width=2", "--mode=b", "--name=x", "--channels=3", "--noresume"])
    config = runs.config_from_flags(values, Settings)
    assert (config.width, config.mode, config.name, config.channels) == (2.0, "b", "x", 3)
    assert values["epochs"].default == 3 and values["epochs"].help == "Training epochs."
    assert "verbose" not in values  # A field without help is no flag.
    with pytest.raises(flags.IllegalFlagValueError, match="a|b"):
        values(["prog", "--mode=c"])
    with pytest.raises(ValueError, match="kind must be int, float, bool or str"):
        setting(None, "No kind.")


def test_config_keys_match_the_flags():
    values = flags.FlagValues()
    runs.define_flags(Settings, values)
    values(["prog"])
    assert runs.config_from_flags(values, Settings) == Settings()


def _run(tmp_path, **kwargs):
    settings = dict(latent_dim=4, output_dir=str(tmp_path))
    return runs.Run(tmp_path, settings, "model.keras", resume_keys=("latent_dim",), **kwargs)


def test_a_fresh_folder_gets_the_config(tmp_path):
    _run(tmp_path / "new").prepare()
    with open(tmp_path / "new" / "config.json") as file:
        assert json.load(file)["latent_dim"] == 4


def test_a_folder_with_another_run_is_refused(tmp_path):
    (tmp_path / "history.csv").write_text("epoch,loss\n0,1.0\n")
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match=r"holds another run \(history.csv\): pass --resume"):
        _run(tmp_path).prepare()
    _run(tmp_path, overwrite=True).prepare()
    # Overwrite deletes the run's files and nothing else.
    assert sorted(os.listdir(tmp_path)) == ["config.json", "notes.txt"]


def test_resume_checks_the_settings_and_refuses_a_finished_run(tmp_path):
    _run(tmp_path).prepare()
    (tmp_path / "backup").mkdir()
    changed = runs.Run(tmp_path, dict(latent_dim=8), "model.keras", True, False, ("latent_dim",))
    with pytest.raises(ValueError, match="latent_dim=4 -> 8"):
        changed.prepare()
    _run(tmp_path, resume=True).prepare()
    (tmp_path / "backup").rmdir()
    (tmp_path / "model.keras").write_text("")
    with pytest.raises(ValueError, match="finished .*pass --overwrite"):
        _run(tmp_path, resume=True).prepare()


def test_a_resumed_run_removes_the_temporary_files_of_a_killed_one(tmp_path):
    _run(tmp_path).prepare()
    (tmp_path / "backup").mkdir()
    # What a kill inside save_atomically, the export and the backup leaves; the user's files stay.
    (tmp_path / ".checkpoint.keras.tmp-x1y2.keras").write_text("partial")
    (tmp_path / ".model.keras.tmp-a1b2.keras").write_text("partial")
    (tmp_path / ".saved_model.tmp-c3d4").mkdir()
    (tmp_path / ".saved_model.tmp-c3d4" / "saved_model.pb").write_text("partial")
    (tmp_path / "backup" / ".state.npz.tmp-e5f6.npz").write_text("partial")
    (tmp_path / ".notes.txt").write_text("mine")
    _run(tmp_path, resume=True).prepare()
    assert sorted(os.listdir(tmp_path)) == [".notes.txt", "backup", "config.json"]
    assert os.listdir(tmp_path / "backup") == []


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(resume=True, overwrite=True), "resume and overwrite exclude each other"),
        (dict(output_dir=""), "output_dir must be a directory path"),
        (dict(final_model="model.h5"), "final_model must be a file name ending in .keras"),
    ],
)
def test_bad_run_arguments(tmp_path, kwargs, match):
    arguments = dict(output_dir=tmp_path / "x", settings={}, final_model="m.keras")
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=match):
        runs.Run(**arguments)
    assert not os.path.exists(tmp_path / "x")


def test_history_keeps_the_last_row_of_each_epoch(tmp_path):
    path = tmp_path / "history.csv"
    # A run interrupted after epoch 1 and resumed: epoch 1 is written twice; val_loss absent.
    path.write_text("epoch,loss,val_loss\n0,3.0,NA\n1,2.0,NA\n1,1.5,NA\n2,1.0,NA\n")
    assert runs.read_history(path) == {"loss": [3.0, 1.5, 1.0]}
    assert runs.read_history(tmp_path / "missing.csv") == {}


def test_optimizers_from_names():
    adam = runs.make_optimizer("adam", 2e-4, gan=True)
    # The same Adam as GAN.compile's default.
    default = gan_model.default_optimizer()
    assert isinstance(adam, optimizers.Adam)
    assert (adam.beta_1, adam.beta_2) == (default.beta_1, default.beta_2) == (0.0, 0.9)
    assert runs.make_optimizer("adam", 1e-3).beta_1 == 0.9
    assert runs.make_optimizer("adam", 1e-3).beta_2 == 0.999
    assert isinstance(runs.make_optimizer("nesterov", 0.1), optimizers.Nesterov)
    assert isinstance(runs.make_optimizer("conjugate_gradient", 0.1), optimizers.ConjugateGradient)
    rmsprop = runs.make_optimizer("RMSprop", 0.003)
    assert isinstance(rmsprop, keras.optimizers.RMSprop)
    assert float(rmsprop.learning_rate) == pytest.approx(0.003)
    names = runs.optimizer_names()
    assert names[:3] == runs.TFGEN_OPTIMIZERS and {"sgd", "adamw"} <= set(names)
    assert not {"optimizer", "lossscaleoptimizer"} & set(names)
    with pytest.raises(ValueError, match=r"generator_optimizer must be one of .*got 'fancy'"):
        runs.make_optimizer("fancy", 0.1, argument="generator_optimizer")
    with pytest.raises(ValueError, match="learning rate of optimizer must be a finite number > 0"):
        runs.make_optimizer("adam", float("nan"))


def test_strategies_and_jit_from_names():
    assert runs.make_strategy("default") is tf.distribute.get_strategy()
    with pytest.raises(ValueError, match="strategy must be one of default, mirrored"):
        runs.make_strategy("cloud")
    assert [runs.jit_setting(v) for v in ("auto", "TRUE", False)] == ["auto", True, False]
    with pytest.raises(ValueError, match="jit_compile must be one of auto, true, false"):
        runs.jit_setting("maybe")


def test_dtype_policy_is_restored():
    with runs.dtype_policy(True):
        assert keras.mixed_precision.dtype_policy().name == "mixed_float16"
    assert keras.mixed_precision.dtype_policy().name == "float32"


def test_first_images_spans_batches():
    data = tf.data.Dataset.from_tensor_slices(np.arange(10, dtype=np.float32)).batch(4)
    np.testing.assert_array_equal(runs.first_images(data, 6), np.arange(6))
    with pytest.raises(ValueError, match="count must be a positive int, got 0"):
        runs.first_images(data, 0)


@pytest.fixture
def restored_logging(monkeypatch):
    """Puts back the process-wide settings `runs.quiet` changes, for the tests after this one."""
    from absl import logging as absl_logging

    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0"))
    level, verbosity = tf.get_logger().level, absl_logging.get_verbosity()
    yield
    tf.get_logger().setLevel(level)
    absl_logging.set_verbosity(verbosity)


def test_quiet_silences_tensorflow_and_absl(restored_logging):
    from absl import logging as absl_logging

    runs.quiet()
    assert tf.get_logger().level == logging.ERROR
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] in ("2", "3")
    assert absl_logging.get_verbosity() == absl_logging.ERROR


def test_seed_must_be_an_int():
    with pytest.raises(ValueError, match="seed must be an int, got 1.5"):
        runs.set_random_seed(1.5)
