"""Writes one .npy file per numpy dtype rtensor supports, in several shapes, into a directory.

Usage: npy_all_dtypes.py OUT_DIR
Prints one line per file written.
"""
import os
import sys

import numpy as np

out = sys.argv[1]
rng = np.random.default_rng(7)
dtypes = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"]
shapes = [(), (5,), (3, 4), (2, 0, 3), (2, 3, 2, 2)]
for name in dtypes:
    for shape in shapes:
        raw = rng.integers(0, 256, size=int(np.prod(shape)) * np.dtype(name).itemsize, dtype=np.uint8)
        if name == "bool":
            arr = (raw % 2).astype(np.bool_).reshape(shape)
        else:
            arr = raw.view(name).reshape(shape)
        path = os.path.join(out, f"{name}-{'x'.join(map(str, shape)) or 'scalar'}.npy")
        np.save(path, arr)
        print(path)
