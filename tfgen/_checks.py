"""Argument checks shared across tfgen: each raises a ValueError naming the argument.

Wrong types are ValueErrors too (not TypeErrors), so that callers catch one exception type for
every bad argument, as `tfgen`'s docstrings promise.
"""

import math
import numbers


def positive_int(value, name, maximum=None):
    """`value` as an int >= 1 (and <= `maximum`, when given); bools are not ints here."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be at most {maximum}, got {value!r}")
    return int(value)


def seed(value, name="seed", optional=True):
    """`value` as an int seed, or None when `optional`; floats and bools are refused."""
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        allowed = "None or an int" if optional else "an int"
        raise ValueError(f"{name} must be {allowed}, got {value!r}")
    return int(value)


def boolean(value, name):
    """`value` if it is a bool (numpy's included); 0, 1, strings and None are refused."""
    if not isinstance(value, bool) and type(value).__name__ != "bool_":
        raise ValueError(f"{name} must be a bool (True or False), got {value!r}")
    return bool(value)


def finite_float(value, name, minimum=None):
    """`value` as a finite float (>= `minimum`, when given); bools are refused."""
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not math.isfinite(value)
        or (minimum is not None and value < minimum)
    ):
        bound = "" if minimum is None else f" >= {minimum}"
        raise ValueError(f"{name} must be a finite number{bound}, got {value!r}")
    return float(value)


def seed_or_random(value, name="seed"):
    """The int seed `value`, or for None a random one in [0, 2**31 - 1)."""
    if seed(value, name) is None:
        import numpy as np  # noqa: PLC0415  (only needed for the random default)

        return int(np.random.default_rng().integers(2**31 - 1))
    return int(value)
