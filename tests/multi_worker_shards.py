"""One worker of a two-process MultiWorkerMirroredStrategy that reads an image folder
(multi_worker_shard.py), then a tfds dataset of several record files
(multi_worker_tfds_shard.py), for test_multi_worker.py: one pair of processes for both reads, so
that TensorFlow is imported and the cluster formed once.

Run with TF_CONFIG set: `multi_worker_shards.py FOLDER FOLDER_JSON DATA_DIR TFDS_JSON`.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import multi_worker_shard  # noqa: E402
import multi_worker_tfds_shard  # noqa: E402
import tensorflow as tf  # noqa: E402

if __name__ == "__main__":
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    multi_worker_shard.main(sys.argv[1], sys.argv[2], strategy)
    multi_worker_tfds_shard.main(sys.argv[3], sys.argv[4], strategy)
