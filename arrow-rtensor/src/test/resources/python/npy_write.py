"""Writes .npy files with numpy, for the Java reader to check.

Usage: npy_write.py OUT_DIR
Writes, for every dtype rtensor reads and several shapes, one file per .npy format version (1.0,
2.0, 3.0) plus the array's raw C-order bytes, and prints one line per file: npy path, raw path,
dtype, shape (comma-separated).
"""
import os
import sys

import numpy as np
from numpy.lib import format as npy_format

out = sys.argv[1]
rng = np.random.default_rng(11)
dtypes = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"]
shapes = [(), (5,), (3, 4), (2, 0, 3), (2, 3, 2, 2)]
for name in dtypes:
    for shape in shapes:
        raw = rng.integers(0, 256, size=int(np.prod(shape)) * np.dtype(name).itemsize, dtype=np.uint8)
        arr = (raw % 2).astype(np.bool_).reshape(shape) if name == "bool" else raw.view(name).reshape(shape)
        stem = os.path.join(out, "%s-%s" % (name, "x".join(map(str, shape)) or "scalar"))
        with open(stem + ".raw", "wb") as f:
            f.write(arr.tobytes())
        for version in [(1, 0), (2, 0), (3, 0)]:
            path = "%s-v%d.npy" % (stem, version[0])
            with open(path, "wb") as f:
                npy_format.write_array(f, arr, version=version)
            print("%s\t%s\t%s\t%s" % (path, stem + ".raw", name, ",".join(map(str, shape))))
