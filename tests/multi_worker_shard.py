"""One worker of a two-process MultiWorkerMirroredStrategy read of an image folder
(test_multi_worker.py): records the files this worker decodes (and probes) and the images it
is handed.

Run with TF_CONFIG set: argv[1] is the folder, argv[2] the JSON file to write (or `main` from
multi_worker_shards.py, which reads a tfds dataset next in the same process).
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import tfgen  # noqa: E402
from tfgen.data import sources  # noqa: E402

opened, probed = [], []


def main(folder, output_path, strategy=None):
    strategy = strategy or tf.distribute.MultiWorkerMirroredStrategy()
    decode = sources.decode_image_file

    def recording_decode(filename, *args, **kwargs):
        if tf.executing_eagerly():  # `load` probing the first file for the image size
            probed.append(os.fspath(filename))
            return decode(filename, *args, **kwargs)
        record = tf.py_function(lambda name: opened.append(name.numpy().decode()), [filename], [])
        with tf.control_dependencies([record]):
            return decode(filename, *args, **kwargs)

    sources.decode_image_file = recording_decode
    data = tfgen.data.load(f"folder:{folder}", batch_size=4, seed=0, cache=False)
    seen = []
    for batch in strategy.experimental_distribute_dataset(data):
        for images in strategy.experimental_local_results(batch):
            # Image i is filled with the value 15 i (see test_multi_worker.py).
            seen += np.rint((images.numpy()[:, 0, 0, 0] + 1) * 127.5 / 15).astype(int).tolist()
    with open(output_path, "w") as file:
        names = {
            key: sorted(map(os.path.basename, value))
            for key, value in dict(opened=opened, probed=probed).items()
        }
        json.dump(dict(names, seen=seen), file)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
