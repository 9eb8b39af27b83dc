r"""Artistic images by optimising pixels: style transfer, textures, feature visualisation.

    python examples/stylize.py                                   # bundled photos, offline
    python examples/stylize.py --content=photo.jpg --style=painting.jpg --image_size=256 \
        --features=vgg19:/data/vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5 --steps=500
    python examples/stylize.py --task=texture --style=china --optimizer=conjugate_gradient
    python examples/stylize.py --task=visualize --layer=random_7x7 --unit=3

--content and --style are image files or the names of the bundled photographs
(`tfgen.images.photo_names()`: china, flower, astronaut, rocket, motorcycle_left,
motorcycle_right, hubble_deep_field, grace_hopper, coffee, chelsea; `photo:NAME` means the
same). Writes image.png, progress.png (snapshots), losses.png and settings.json into
--output_dir. See `tfgen.stylize` for the losses and the feature networks.
"""

from __future__ import annotations

from absl import app, flags

TASKS = ("transfer", "texture", "visualize")

flags.DEFINE_enum("task", "transfer", TASKS, "What to make.")
flags.DEFINE_string("content", "grace_hopper", "Content image: a file or a bundled photo.")
flags.DEFINE_string("style", "flower", "Style image: a file or a bundled photo.")
flags.DEFINE_string(
    "features", "random", 'Feature network: "random", "vgg16:/path/to.h5" or "vgg19:/path/to.h5".'
)
flags.DEFINE_enum(
    "optimizer",
    "adam",
    ("adam", "nesterov", "gradient_descent", "conjugate_gradient"),
    "How to optimise the pixels (see tfgen.stylize.OPTIMIZERS).",
)
flags.DEFINE_float("learning_rate", None, "Learning rate; default the optimizer's measured one.")
flags.DEFINE_integer("steps", 200, "Optimizer steps (conjugate-gradient iterations).")
flags.DEFINE_integer("image_size", 64, "Side of the square result in pixels.")
flags.DEFINE_string("layer", "random_7x7", "visualize: the layer whose activation to raise.")
flags.DEFINE_integer("unit", None, "visualize: one channel of --layer (default all).")
flags.DEFINE_integer("seed", 0, "Seed of the noise start and of the jitter.")
flags.DEFINE_string("output_dir", "runs/stylize", "Where the pictures and settings go.")


def run(task, output_dir, **settings):
    """Run one task of `tfgen.stylize` and save its result; return (result, paths)."""
    from tfgen import runs, stylize

    runs.check_output_dir(output_dir)  # Before the work, not when saving it.
    common = {key: settings[key] for key in ("optimizer", "learning_rate", "steps", "seed")}
    if task == "transfer":
        result = stylize.transfer(
            settings["content"],
            settings["style"],
            features=settings["features"],
            image_size=settings["image_size"],
            **common,
        )
    elif task == "texture":
        result = stylize.texture(
            settings["style"], settings["image_size"], features=settings["features"], **common
        )
    else:
        result = stylize.visualize(
            settings["features"],
            settings["layer"],
            unit=settings["unit"],
            image_size=settings["image_size"],
            **common,
        )
    paths = stylize.save_result(result, output_dir, {"task": task, **settings})
    return result, paths


def main(argv):
    del argv
    names = ("content", "style", "features", "optimizer", "learning_rate", "steps")
    names += ("image_size", "layer", "unit", "seed")
    settings = {name: getattr(flags.FLAGS, name) for name in names}
    result, paths = run(flags.FLAGS.task, flags.FLAGS.output_dir, **settings)
    print(
        f"{flags.FLAGS.task}: loss {result.losses[0]:.4g} -> {result.losses[-1]:.4g} "
        f"in {result.evaluations} evaluations; wrote {', '.join(paths.values())}"
    )


if __name__ == "__main__":
    from tfgen import runs

    app.run(runs.reporting_errors(main))
