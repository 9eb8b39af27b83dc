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


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: checks.integer(0, "steps", minimum=1), r"^steps must be an int >= 1, got 0$"),
        (lambda: checks.integer(1.0, "steps", minimum=1), r"^steps must be an int >= 1, got 1.0$"),
        (lambda: checks.integer(True, "n"), r"^n must be an int, got True$"),
        (lambda: checks.integer(9, "k", 0, 8), r"^k must be an int in \[0, 8\], got 9$"),
        (lambda: checks.integer(0, "r", minimum=1, optional=True), r"^r must be None or an int"),
        (lambda: checks.non_negative_int(-1, "depth"), r"^depth must be an int >= 0, got -1$"),
        (lambda: checks.positive_int(np.int64(0), "k"), r"^k must be a positive int, got "),
        (lambda: checks.at_most(7, "steps", 6), r"^steps must be at most 6, got 7$"),
        (lambda: checks.boolean(1, "clip"), r"^clip must be a bool, got 1$"),
        (lambda: checks.boolean(None, "clip"), r"^clip must be a bool, got None$"),
        (lambda: checks.number(1.0, "m", 0, 1, high_open=True), r"^m must be a number in \[0, 1\)"),
        (lambda: checks.number(0.0, "e", 0, low_open=True), r"^e must be a number > 0, got 0.0$"),
        (
            lambda: checks.number(2, "x", maximum=1, high_open=True),
            r"^x must be a number < 1, got 2",
        ),
        (lambda: checks.number(float("nan"), "w", minimum=0), r"^w must be a number >= 0, got nan"),
        (lambda: checks.number(float("inf"), "w", minimum=0), r"^w must be a number >= 0, got inf"),
        (lambda: checks.number(False, "w"), r"^w must be a number, got False$"),
        (lambda: checks.number("1", "w", optional=True), r"^w must be None or a number, got '1'$"),
        (
            lambda: checks.number(1.5, "beta_1", 0, 1, high_open=True, kind="a float"),
            r"^beta_1 must be a float in \[0, 1\), got 1.5$",
        ),
        (
            lambda: checks.number(-1, "strength", minimum=0, kind="a finite float"),
            r"^strength must be a finite float >= 0, got -1$",
        ),
        (lambda: checks.finite_float(-1.0, "s", 0.0), r"^s must be a finite number >= 0.0, got"),
    ],
)
def test_checks_refuse_with_a_message_naming_the_argument_and_the_range(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_checks_return_python_values_and_accept_numpy_ones():
    assert (
        checks.integer(np.int32(3), "n", 1, 3) == 3
        and type(checks.integer(np.int32(3), "n")) is int
    )
    assert checks.integer(None, "n", optional=True) is None
    assert checks.non_negative_int(0, "n") == 0
    assert checks.at_most(6, "steps", 6) == 6 and checks.at_most(10**9, "steps", None) == 10**9
    assert checks.boolean(np.bool_(True), "b") is True
    assert checks.number(np.float32(0.5), "m", 0, 1, high_open=True) == 0.5
    assert type(checks.number(1, "m")) is float
    assert checks.number(0.0, "m", 0, 1) == 0.0 and checks.number(1.0, "m", 0, 1) == 1.0
    assert checks.number(float("inf"), "tolerance", minimum=0, finite=False) == float("inf")
    assert checks.number(None, "w", optional=True) is None
    for value, is_int, is_number in [
        (3, True, True),
        (np.int64(3), True, True),
        (2.5, False, True),
        (np.float32(2.5), False, True),
        (True, False, False),
        ("3", False, False),
        (None, False, False),
    ]:
        assert checks.is_int(value) is is_int and checks.is_number(value) is is_number
