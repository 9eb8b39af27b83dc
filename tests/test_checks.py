"""The shared argument checks of tfgen._checks."""

import keras
import numpy as np
import pytest

from tfgen import _checks as checks


def test_built_model_returns_a_built_model_and_names_the_argument_otherwise():
    built = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    assert checks.built_model(built, "generator") is built
    unbuilt = keras.Sequential([keras.layers.Dense(2)])
    for value in (unbuilt, "model", None, keras.layers.Dense(2)):
        with pytest.raises(ValueError, match="^decoder must be a built keras.Model, got "):
            checks.built_model(value, "decoder")


def test_seed_or_random_keeps_a_seed_and_draws_an_int_in_range_for_none():
    assert checks.seed_or_random(7) == 7
    assert checks.seed_or_random(np.int64(7)) == 7
    drawn = {checks.seed_or_random(None) for _ in range(20)}
    assert all(isinstance(s, int) and 0 <= s < 2**31 - 1 for s in drawn)
    assert len(drawn) > 1
    with pytest.raises(ValueError, match="seed"):
        checks.seed_or_random(1.5)
