"""`.keras` files written by an older tfgen still load, compute the same and keep their state.

tests/data/make_old_models.py wrote the files and the expected values with main's commit
c8b1755, before the modules of issue 28 were split; see its docstring. A moved or renamed
registered class, a changed `get_config` or a lost optimizer slot fails here.
"""

import importlib.util
import json
import os
import zipfile

import keras
import numpy as np
import pytest

import tfgen  # noqa: F401  (registers tfgen's classes with Keras)

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
_spec = importlib.util.spec_from_file_location(
    "make_old_models", os.path.join(DATA, "make_old_models.py")
)
make_old_models = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_old_models)


def _version(text):
    return tuple(int(part) for part in text.split(".")[:3] if part.isdigit())


@pytest.mark.parametrize("name", ["gan", "conditional_gan", "unet", "vae"])
def test_old_file_loads_and_computes_the_recorded_values(name):
    with zipfile.ZipFile(os.path.join(DATA, f"{name}.keras")) as archive:
        written_by = json.loads(archive.read("metadata.json"))["keras_version"]
    if _version(keras.__version__) < _version(written_by):
        # Keras reads files of its own and older releases only (an older Keras refuses
        # the newer layers' config keys), whatever tfgen does.
        pytest.skip(f"written by Keras {written_by}, Keras {keras.__version__} is installed")
    model = keras.saving.load_model(os.path.join(DATA, f"{name}.keras"), safe_mode=True)
    expected = dict(np.load(os.path.join(DATA, f"{name}.npz")))
    output = keras.ops.convert_to_numpy(model(make_old_models.probe(model), training=False))
    np.testing.assert_allclose(output, expected.pop("output"), rtol=1e-5, atol=1e-6)
    state = make_old_models.optimizer_variables(model)
    assert sorted(state) == sorted(expected)
    for key, value in expected.items():
        np.testing.assert_allclose(state[key], value, rtol=1e-5, atol=1e-7, err_msg=key)
