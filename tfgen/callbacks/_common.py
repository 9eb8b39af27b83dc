"""What the callbacks share: who writes files, and the checks of logs and variables."""

from __future__ import annotations

import importlib.util
import json
import os

import keras
import numpy as np
import tensorflow as tf

from tfgen import images as images_lib


def is_chief() -> bool:
    """Whether this process writes files: True unless TF_CONFIG names a non-chief task."""
    try:
        config = json.loads(os.environ.get("TF_CONFIG") or "{}")
        task, cluster = config.get("task") or {}, config.get("cluster") or {}
        kind, index = task.get("type"), int(task.get("index") or 0)
    except (ValueError, TypeError, AttributeError):
        return True
    if kind in (None, "chief"):
        return True
    return kind == "worker" and index == 0 and "chief" not in cluster


def tensorboard_available() -> bool:
    """Whether the `tensorboard` package, which `tf.summary` writes through, is installed."""
    return importlib.util.find_spec("tensorboard") is not None


def _non_finite_log(logs):
    """The first (name, value) of `logs` whose value is a non-finite number, else None."""
    for name, value in (logs or {}).items():
        try:
            array = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            continue  # Not numeric (a string, a list of names): nothing to check.
        if array.size and not np.all(np.isfinite(array)):
            shown = float(array.reshape(-1)[~np.isfinite(array.reshape(-1))][0])
            return name, shown
    return None


def _model_variables(model):
    """The model's weights and the variables of every optimizer it holds (GANs have two)."""
    variables = list(model.weights)
    optimizers = [getattr(model, "optimizer", None)]
    optimizers += [v for v in vars(model).values() if isinstance(v, keras.optimizers.Optimizer)]
    seen = set()
    for optimizer in optimizers:
        if optimizer is None or id(optimizer) in seen:
            continue
        seen.add(id(optimizer))
        variables.extend(optimizer.variables)
    return variables


def _non_finite_variable(model):
    """Path of the first floating-point variable of `model` with a non-finite entry, else None."""
    for variable in _model_variables(model):
        if not tf.as_dtype(variable.dtype).is_floating:
            continue
        if not np.all(np.isfinite(keras.ops.convert_to_numpy(variable))):
            return getattr(variable, "path", None) or variable.name
    return None


def _to_unit_numpy(images):
    """Model images in [-1, 1] -> float32 numpy in [0, 1] (NaN stays NaN, to be noticed)."""
    return images_lib.to_unit_range(keras.ops.convert_to_numpy(images))
