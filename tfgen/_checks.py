"""Argument checks shared across tfgen: each raises a ValueError naming the argument.

Wrong types are ValueErrors too (not TypeErrors), so that callers catch one exception type for
every bad argument, as `tfgen`'s docstrings promise.
"""

import math
import numbers


def is_int(value):
    """Whether `value` is an int (numpy's included); bools are not ints here."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_number(value):
    """Whether `value` is a real number (numpy's included); bools are not numbers here."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _bounds(minimum, maximum, low_open=False, high_open=False):
    """The allowed range as the messages write it: " in [0, 1)", " >= 1", " < 5" or ""."""
    if minimum is not None and maximum is not None:
        return f" in {'(' if low_open else '['}{minimum}, {maximum}{')' if high_open else ']'}"
    if minimum is not None:
        return f" {'>' if low_open else '>='} {minimum}"
    if maximum is not None:
        return f" {'<' if high_open else '<='} {maximum}"
    return ""


def _within(value, minimum, maximum, low_open=False, high_open=False):
    if minimum is not None and not (value > minimum if low_open else value >= minimum):
        return False
    return maximum is None or (value < maximum if high_open else value <= maximum)


def integer(value, name, minimum=None, maximum=None, optional=False):
    """`value` as an int in [`minimum`, `maximum`] (each bound only when given), or None when
    `optional`; bools and floats are refused: "steps must be an int >= 1, got 0"."""
    if value is None and optional:
        return None
    if not is_int(value) or not _within(value, minimum, maximum):
        allowed = ("None or " if optional else "") + "an int" + _bounds(minimum, maximum)
        raise ValueError(f"{name} must be {allowed}, got {value!r}")
    return int(value)


def non_negative_int(value, name):
    """`value` as an int >= 0; bools are refused."""
    return integer(value, name, minimum=0)


def positive_int(value, name, maximum=None):
    """`value` as an int >= 1 (and <= `maximum`, when given); bools are not ints here."""
    if not is_int(value) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(at_most(value, name, maximum))


def at_most(value, name, maximum):
    """`value` unless it exceeds `maximum` (None: no limit)."""
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be at most {maximum}, got {value!r}")
    return value


def number(
    value,
    name,
    minimum=None,
    maximum=None,
    low_open=False,
    high_open=False,
    optional=False,
    kind="a number",
    finite=True,
):
    """`value` as a float in the range the bounds give (`minimum` excluded when `low_open`,
    `maximum` when `high_open`), or None when `optional`; bools and NaN are refused, and
    infinities unless `finite` is False. `kind` names what is allowed in the message:
    "momentum must be a float in [0, 1), got 1.0"."""
    if value is None and optional:
        return None
    if (
        not is_number(value)
        or math.isnan(value)
        or (finite and math.isinf(value))
        or not _within(value, minimum, maximum, low_open, high_open)
    ):
        bounds = _bounds(minimum, maximum, low_open, high_open)
        allowed = ("None or " if optional else "") + kind + bounds
        raise ValueError(f"{name} must be {allowed}, got {value!r}")
    return float(value)


def seed(value, name="seed", optional=True):
    """`value` as an int seed, or None when `optional`; floats and bools are refused."""
    return integer(value, name, optional=optional)


def boolean(value, name):
    """`value` if it is a bool (numpy's included); 0, 1, strings and None are refused."""
    numpy_bool = type(value).__module__ == "numpy" and type(value).__name__ in ("bool", "bool_")
    if not isinstance(value, bool) and not numpy_bool:
        raise ValueError(f"{name} must be a bool, got {value!r}")
    return bool(value)


def finite_float(value, name, minimum=None):
    """`value` as a finite float (>= `minimum`, when given); bools are refused."""
    return number(value, name, minimum, kind="a finite number")


def built_model(value, name):
    """`value` if it is a built `keras.Model`; otherwise a ValueError naming `name`."""
    import keras  # noqa: PLC0415  (this module stays free of heavy imports)

    if not isinstance(value, keras.Model) or not value.built:
        raise ValueError(f"{name} must be a built keras.Model, got {value!r}")
    return value


def seed_or_random(value, name="seed"):
    """The int seed `value`, or for None a random one in [0, 2**31 - 1)."""
    if seed(value, name) is None:
        import numpy as np  # noqa: PLC0415  (only needed for the random default)

        return int(np.random.default_rng().integers(2**31 - 1))
    return int(value)


#: Most optimisation steps of one call (inversion, the deep image prior, stylize): a million
#: steps already take days on a CPU.
MAX_ITERATIONS = 1_000_000

#: Largest step count or period in steps: the counters are int64, but no period beyond int32
#: comes round in a training run.
MAX_STEPS = 2**31 - 1

#: Largest image (height x width) tfgen reads or makes by default: Pillow's
#: `Image.MAX_IMAGE_PIXELS`, the size above which Pillow suspects a decompression bomb (about
#: 256 MiB of 24-bit pixels).
MAX_PIXELS = 89_478_485


def image_pixels(size, name="image_size", maximum=MAX_PIXELS):
    """`size`, a (height, width) pair of ints, unless it holds more than `maximum` pixels."""
    height, width = size
    if height * width > maximum:
        raise ValueError(
            f"{name}={size[0] if height == width else tuple(size)} asks for {height * width:,} "
            f"pixels per image, more than the {maximum:,} allowed: use a smaller {name}"
        )
    return size


def memory_bytes():
    """The machine's physical memory in bytes (16 GiB when the system does not say)."""
    import os  # noqa: PLC0415

    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 16 * 2**30


def batch_fits(batch_size, shape, name="batch_size", bytes_per_value=4):
    """Refuses a batch of float32 images of `shape` larger than half the physical memory."""
    needed = batch_size * math.prod(shape) * bytes_per_value
    limit = memory_bytes() // 2
    if needed > limit:
        raise ValueError(
            f"{name}={batch_size} images of shape {tuple(shape)} need {needed / 2**30:.1f} GiB "
            f"per batch, more than half of this machine's memory ({limit / 2**30:.1f} GiB): use "
            f"a smaller {name} or image_size"
        )
    return batch_size


def directory_path(path, name="output_dir"):
    """`path` as a str if it can be a directory: nothing on it, or a directory already, and no
    file where one of its parents should be. Nothing is created."""
    import os  # noqa: PLC0415

    if not isinstance(path, str | os.PathLike) or not os.fspath(path):
        raise ValueError(f"{name} must be a directory path, got {path!r}")
    path = os.path.abspath(os.fspath(path))
    probe = path
    while True:
        if os.path.exists(probe):
            if not os.path.isdir(probe):
                where = "is" if probe == path else f"lies under the file {probe!r}, which is"
                raise ValueError(f"{name} {path!r} {where} not a directory")
            return path
        parent = os.path.dirname(probe)
        if parent == probe:
            return path
        probe = parent
