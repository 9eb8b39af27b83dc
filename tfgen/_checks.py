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
