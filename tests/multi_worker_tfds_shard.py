"""One worker of a two-process MultiWorkerMirroredStrategy reading a tfds dataset of several
record files (test_multi_worker.py): records the files it opens and the images it is handed.

Run with TF_CONFIG set: `multi_worker_tfds_shard.py DATA_DIR OUTPUT_JSON` (or `main` from
multi_worker_shards.py, after its read of an image folder in the same process).
"""

import hashlib
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from tensorflow_datasets.core import file_adapters  # noqa: E402

import tfgen  # noqa: E402

opened = []


def record_opened_files():
    """Wraps tfds' record reader so that every file a pipeline opens is appended to `opened`."""
    adapter = file_adapters.TfRecordFileAdapter
    make = adapter.make_tf_data.__func__

    def recording(cls, filename, buffer_size=None):
        name = tf.convert_to_tensor(filename)
        record = tf.py_function(lambda n: opened.append(n.numpy().decode()), [name], [])
        with tf.control_dependencies([record]):
            return make(cls, tf.identity(name), buffer_size)

    adapter.make_tf_data = classmethod(recording)


def main(data_dir, output_path, strategy=None):
    strategy = strategy or tf.distribute.MultiWorkerMirroredStrategy()
    record_opened_files()
    data = tfgen.data.load("digits", data_dir=data_dir, batch_size=10, seed=0, cache=False)
    seen = []
    for batch in strategy.experimental_distribute_dataset(data):
        for images in strategy.experimental_local_results(batch):
            pixels = np.rint((images.numpy() + 1) * 127.5).astype(np.uint8)
            seen += [hashlib.sha1(image.tobytes()).hexdigest() for image in pixels]
    with open(output_path, "w") as file:
        json.dump(dict(opened=sorted(map(os.path.basename, opened)), seen=seen), file)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
