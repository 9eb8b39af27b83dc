"""Keras optimizers: Nesterov's accelerated gradient, Adam and nonlinear conjugate gradient.

Each takes `maximize=True` for gradient ascent and every keyword argument of
`keras.optimizers.Optimizer` (schedules, clipping, weight decay, EMA, accumulation).
"""

from tfgen.optimizers.adam import Adam
from tfgen.optimizers.conjugate_gradient import METHODS as CONJUGATE_GRADIENT_METHODS
from tfgen.optimizers.conjugate_gradient import ConjugateGradient, conjugate_gradient_beta
from tfgen.optimizers.nesterov import Nesterov

__all__ = [
    "NAMES",
    "Adam",
    "CONJUGATE_GRADIENT_METHODS",
    "ConjugateGradient",
    "Nesterov",
    "conjugate_gradient_beta",
]

#: tfgen's optimizers by name: the one list; `tfgen.runs` and `tfgen.stylize` take their names
#: from it.
NAMES = ("nesterov", "adam", "conjugate_gradient")
