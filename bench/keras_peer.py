"""Native TensorFlow peer of the training-throughput bench (bench/proxy-training.ts --keras).

Builds the same network as the tfjs builder from the lowered graph (JSON written by the bench: ops, input
shape, BN epsilon) with Keras layers, trains it with Adam on one fixed batch (as the tfjs measurement does), one
intra-op and one inter-op thread, and prints one JSON line: trainable parameter count, img/s wall and CPU time,
peak RSS.

    python keras_peer.py graph.json <batch> <steps> <warmup>
"""

import json
import os
import resource
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

tf.config.threading.set_intra_op_parallelism_threads(1)
tf.config.threading.set_inter_op_parallelism_threads(1)
layers = tf.keras.layers


def build(graph):
    shape = graph["inputShape"]
    eps = graph["bnEpsilon"]
    inputs = tf.keras.Input((shape["height"], shape["width"], shape["channels"]))
    values = {graph["input"]: inputs}

    def conv_bn(op, x):
        pad = (op["kernel"] - 1) // 2
        if pad:
            x = layers.ZeroPadding2D(pad)(x)
        if op["kind"] == "depthwise":
            y = layers.DepthwiseConv2D(op["kernel"], op["stride"], use_bias=False)(x)
        elif op["groups"] == 1:
            y = layers.Conv2D(op["cout"], op["kernel"], op["stride"], use_bias=False)(x)
        else:
            # As the tfjs builder does: split channels, one conv per group, concat.
            parts = layers.Lambda(lambda t, g=op["groups"]: tf.split(t, g, axis=3))(x)
            y = layers.Concatenate(axis=3)(
                [
                    layers.Conv2D(op["cout"] // op["groups"], op["kernel"], op["stride"], use_bias=False)(p)
                    for p in parts
                ]
            )
        y = layers.BatchNormalization(momentum=0.9, epsilon=eps)(y)
        return layers.ReLU()(y) if op["relu"] else y

    def shuffle(op, x):
        g = op["groups"]
        c = op["channels"]

        def f(t):
            s = tf.shape(t)
            t = tf.reshape(t, [s[0], s[1], s[2], g, c // g])
            t = tf.transpose(t, [0, 1, 2, 4, 3])
            return tf.reshape(t, [s[0], s[1], s[2], c])

        return layers.Lambda(f)(x)

    for op in graph["ops"]:
        kind = op["kind"]
        if kind in ("conv", "depthwise"):
            values[op["output"]] = conv_bn(op, values[op["input"]])
        elif kind == "shuffle":
            values[op["output"]] = shuffle(op, values[op["input"]])
        elif kind == "split":
            parts = layers.Lambda(lambda t, s=op["sizes"]: tf.split(t, s, axis=3))(values[op["input"]])
            for name, part in zip(op["outputs"], parts):
                values[name] = part
        elif kind == "concat":
            values[op["output"]] = layers.Concatenate(axis=3)([values[n] for n in op["inputs"]])
        elif kind == "add":
            values[op["output"]] = layers.Add()([values[n] for n in op["inputs"]])
        elif kind == "gap":
            values[op["output"]] = layers.GlobalAveragePooling2D()(values[op["input"]])
        elif kind == "fc":
            values[op["output"]] = layers.Dense(op["cout"])(values[op["input"]])
        else:
            raise ValueError(f"unknown op kind {kind}")
    return tf.keras.Model(inputs, values[graph["output"]])


def main():
    graph_file, batch, steps, warmup = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    with open(graph_file) as f:
        graph = json.load(f)
    model = build(graph)
    model.compile(
        optimizer=tf.keras.optimizers.Adam(1e-3, epsilon=1e-7),
        loss=tf.keras.losses.CategoricalCrossentropy(from_logits=True),
    )
    shape = graph["inputShape"]
    rng = np.random.default_rng(1)
    x = rng.random((batch, shape["height"], shape["width"], shape["channels"]), dtype=np.float32)
    classes = [op["cout"] for op in graph["ops"] if op["kind"] == "fc"][-1]
    y = tf.keras.utils.to_categorical(rng.integers(0, classes, batch), classes)
    for _ in range(warmup):
        model.train_on_batch(x, y)
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(x, y)
    wall = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    print(
        json.dumps(
            {
                "backend": f"keras (TensorFlow {tf.__version__})",
                # Trainable, as the search space counts them (Keras adds BN's moving statistics to count_params).
                "params": int(sum(np.prod(w.shape) for w in model.trainable_weights)),
                "totalParams": int(model.count_params()),
                "steps": steps,
                "wallImagesPerSecond": steps * batch / wall,
                "cpuImagesPerSecond": steps * batch / cpu,
                "peakRssBytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            }
        )
    )


main()
