"""One worker of a two-process run of examples/train_gan.py (test_reliability.py).

Run with TF_CONFIG set: trains with --strategy=multi_worker and the settings given as JSON in
argv[1], then writes this worker's final weights to the .npz path in argv[2].
"""

import importlib.util
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")


def main(settings, output_path):
    spec = importlib.util.spec_from_file_location("train_gan", f"{EXAMPLES}/train_gan.py")
    train_gan = importlib.util.module_from_spec(spec)
    sys.modules["train_gan"] = train_gan
    spec.loader.exec_module(train_gan)
    run = train_gan.train(strategy="multi_worker", **settings)
    np.savez(output_path, *[np.asarray(w) for w in run.model.weights])


if __name__ == "__main__":
    main(json.loads(sys.argv[1]), sys.argv[2])
