"""Artistic images by optimising pixels: style transfer, texture synthesis, feature visualisation.

Each function optimises the pixels of one image `x` (a `tf.Variable` in [-1, 1], put back into
that range after every step) over the features F_l(x) of a fixed convolutional network:

* `transfer` (Gatys, Ecker & Bethge 2016, "Image Style Transfer Using Convolutional Neural
  Networks") minimises, for a content image c and a style image s,

      L(x) = content_weight * sum_{l in content} 1/2 mean((F_l(x) - F_l(c))**2)
           + style_weight   * sum_{l in style} 1/|style| * sum((G_l(x) - G_l(s))**2) / (4 N_l**2)
           + tv_weight      * (mean((x[i+1, j] - x[i, j])**2) + mean((x[i, j+1] - x[i, j])**2))

  with the Gram matrix G_l = F_l^T F_l / M_l of the N_l feature maps over the M_l positions
  (Gatys' E_l with the 1/M_l**2 moved into G, so that the loss does not depend on image size),
  and the squared total variation of Mahendran & Vedaldi (2015) as regulariser.
* `texture` (Gatys, Ecker & Bethge 2015, "Texture Synthesis Using Convolutional Neural
  Networks") minimises the style term alone, from noise.
* `visualize` (Erhan et al. 2009; Mordvintsev, Olah & Tyka 2015, "Inceptionism"; Yosinski et
  al. 2015) maximises the mean activation of a layer or of one of its units by gradient ascent,
  regularised by random jitter of the input and a Gaussian blur after every step.

Feature networks (nothing is downloaded):

* "random" (the default): one layer of random filters at several scales (3x3 ... 15x15) with
  ReLU, seeded and reproducible, which synthesises convincing textures (Ustyuzhaninov, Brendel,
  Gatys & Bethge 2017, "What does it take to generate natural textures?"); see `random_features`.
* "vgg16:/path/weights_notop.h5", "vgg19:/path/...": Keras' VGG with ImageNet weights from a
  local file (checked by `tfgen.pretrained`), Gatys' layers (content block4_conv2, style
  block1_conv1 ... block5_conv1) and VGG's preprocessing.
* any built `keras.Model` that takes images in [-1, 1], with the layer names to use.

Optimizers: a tfgen or Keras optimizer instance (a fresh copy of it drives the image in a
compiled loop), one of the names in `OPTIMIZERS`, or "conjugate_gradient" for
`tfgen.solvers.minimize` (Polak-Ribiere+ with a strong-Wolfe line search, the counterpart of the
L-BFGS Gatys used). Defaults are the best of the sweep in benchmarks/stylize.py.
"""

# Public names live in small modules: features, losses, tasks, saving (and private helpers).
from tfgen.images import load_image
from tfgen.stylize._images import MAX_PIXELS, _image_size  # noqa: F401
from tfgen.stylize._loop import StylizeResult
from tfgen.stylize._options import DEFAULT_OPTIMIZER, OPTIMIZERS  # noqa: F401
from tfgen.stylize.features import (  # noqa: F401
    RANDOM_CONTENT_LAYERS,
    RANDOM_FILTERS,
    RANDOM_KERNEL_SIZES,
    RANDOM_STYLE_LAYERS,
    VGG_CONTENT_LAYERS,
    VGG_STYLE_LAYERS,
    random_features,
)
from tfgen.stylize.losses import content_loss, gram_matrix, style_loss, total_variation_loss
from tfgen.stylize.saving import save_result
from tfgen.stylize.tasks import texture, transfer, visualize

__all__ = [
    "OPTIMIZERS",
    "RANDOM_CONTENT_LAYERS",
    "RANDOM_KERNEL_SIZES",
    "RANDOM_STYLE_LAYERS",
    "VGG_CONTENT_LAYERS",
    "VGG_STYLE_LAYERS",
    "StylizeResult",
    "content_loss",
    "gram_matrix",
    "load_image",
    "random_features",
    "save_result",
    "style_loss",
    "texture",
    "total_variation_loss",
    "transfer",
    "visualize",
]
