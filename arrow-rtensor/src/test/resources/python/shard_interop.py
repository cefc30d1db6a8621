"""Interop checks between rtensor's Java shard codec and pyarrow.

  shard_interop.py read DIR    read every shard Java wrote in DIR (listed in DIR/manifest.json)
                               and check dtype, shape and every value against the raw bytes
  shard_interop.py write DIR   write shards with pyarrow (fixed_shape_tensor and primitive
                               columns) plus raw bytes and DIR/manifest.json for Java to check

Exits 1 with a message on stderr naming the shard and column on the first mismatch.
"""
import json
import os
import sys

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc

FST = "arrow.fixed_shape_tensor"
DTYPE_KEY = b"rtensor.dtype"
SHAPE_KEY = b"rtensor.shape"

# dtype name -> (numpy dtype the column converts to, Arrow storage type)
DTYPES = {
    "bool": (np.uint8, pa.uint8()),
    "uint8": (np.uint8, pa.uint8()),
    "int8": (np.int8, pa.int8()),
    "int16": (np.int16, pa.int16()),
    "int32": (np.int32, pa.int32()),
    "int64": (np.int64, pa.int64()),
    "float16": (np.float16, pa.float16()),
    "bfloat16": (np.uint16, pa.uint16()),  # bit pattern
    "float32": (np.float32, pa.float32()),
    "float64": (np.float64, pa.float64()),
}


class Mismatch(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Mismatch(what)


def column_to_numpy(field, arr):
    """The tensor a column holds, as numpy (bfloat16 as uint16 bits, bool as uint8 0/1)."""
    meta = field.metadata or {}
    dtype_name = meta.get(DTYPE_KEY, b"").decode() or None
    if isinstance(arr.type, pa.FixedShapeTensorType):
        check(arr.type.extension_name == FST, "extension name %s" % arr.type.extension_name)
        row_shape = tuple(arr.type.shape)
        value_type = arr.type.value_type
        storage = arr.storage
        flat = storage.flatten().to_numpy(zero_copy_only=False)
        out = flat.reshape((len(arr),) + row_shape)
        if len(arr) > 0 and 0 not in row_shape and value_type != pa.bool_():
            # pyarrow's own conversion must agree.
            own = arr.to_numpy_ndarray()
            check(own.shape == out.shape, "to_numpy_ndarray shape %s" % (own.shape,))
            check(own.tobytes() == out.tobytes(), "to_numpy_ndarray values differ")
    else:
        check(not pa.types.is_nested(arr.type), "unexpected nested type %s" % arr.type)
        value_type = arr.type
        out = arr.to_numpy(zero_copy_only=False)
        if meta.get(SHAPE_KEY) is not None:
            check(meta[SHAPE_KEY] == b"[]", "rtensor.shape %r" % meta[SHAPE_KEY])
            check(len(arr) == 1, "rank-0 column has %d rows" % len(arr))
            out = out.reshape(())
    check(arr.null_count == 0, "column has nulls")
    if dtype_name is None:
        matches = [n for n, (_, t) in DTYPES.items() if t == value_type and n not in ("bool", "bfloat16")]
        check(len(matches) == 1, "no dtype for Arrow type %s" % value_type)
        dtype_name = matches[0]
    return dtype_name, value_type, out


def read(directory):
    with open(os.path.join(directory, "manifest.json")) as f:
        manifest = json.load(f)
    checked = 0
    for shard in manifest["shards"]:
        path = os.path.join(directory, shard["file"])
        try:
            with open(path, "rb") as f:
                table = ipc.open_stream(f).read_all()
            cols = shard["columns"]
            check(table.num_columns == len(cols), "has %d columns, expected %d" % (table.num_columns, len(cols)))
            for i, col in enumerate(cols):
                field = table.schema.field(i)
                check(field.name == col["name"], "column %d is named %r, expected %r" % (i, field.name, col["name"]))
                arr = table.column(i).combine_chunks()
                dtype_name, value_type, actual = column_to_numpy(field, arr)
                where = "column %r" % col["name"]
                check(dtype_name == col["dtype"], "%s: dtype %s, expected %s" % (where, dtype_name, col["dtype"]))
                np_dtype, arrow_type = DTYPES[col["dtype"]]
                check(value_type == arrow_type, "%s: Arrow type %s, expected %s" % (where, value_type, arrow_type))
                check(actual.dtype == np.dtype(np_dtype), "%s: numpy dtype %s" % (where, actual.dtype))
                shape = tuple(col["shape"])
                check(actual.shape == shape, "%s: shape %s, expected %s" % (where, actual.shape, shape))
                with open(os.path.join(directory, col["raw"]), "rb") as r:
                    expected = np.frombuffer(r.read(), dtype=np_dtype).reshape(shape)
                if col["dtype"] in ("float16", "float32", "float64"):
                    ok = np.array_equal(actual, expected, equal_nan=True)
                else:
                    ok = np.array_equal(actual, expected)
                if not ok or np.ascontiguousarray(actual).tobytes() != expected.tobytes():
                    bad = np.argwhere(actual != expected)
                    first = tuple(bad[0]) if len(bad) else "?"
                    raise Mismatch("%s: values differ, first at index %s: %r != %r" % (
                        where, first, actual[first] if len(bad) else "", expected[first] if len(bad) else ""))
                if col["dtype"] == "bfloat16":
                    # The bits widen to float32 exactly; a spot check that they are bfloat16.
                    as_f32 = (expected.astype(np.uint32) << 16).view(np.float32)
                    check(np.all(np.isfinite(as_f32)), "%s: bfloat16 values not finite" % where)
                checked += 1
        except Mismatch as e:
            sys.stderr.write("shard %s: %s\n" % (shard["file"], e))
            sys.exit(1)
    print("pyarrow %s read %d shards, %d columns" % (pa.__version__, len(manifest["shards"]), checked))


def tensor_column(name, dtype_name, values):
    """A pyarrow field and array for a numpy tensor (dimension 0 = rows)."""
    np_dtype, arrow_type = DTYPES[dtype_name]
    meta = {}
    if dtype_name in ("bool", "bfloat16"):
        meta[DTYPE_KEY] = dtype_name.encode()
    values = values.astype(np_dtype, order="C")  # (ascontiguousarray would make rank 0 rank 1)
    if values.ndim == 0:
        meta[SHAPE_KEY] = b"[]"
        arr = pa.array(values.reshape(1), type=arrow_type)
    elif values.ndim == 1:
        arr = pa.array(values, type=arrow_type)
    elif len(values) > 0 and 0 not in values.shape:
        arr = pa.FixedShapeTensorArray.from_numpy_ndarray(values)
    else:
        tensor_type = pa.fixed_shape_tensor(arrow_type, list(values.shape[1:]))
        row = int(np.prod(values.shape[1:]))
        storage_type = pa.list_(pa.field("item", arrow_type), row)
        if row == 0:  # from_arrays cannot tell the row count from zero values
            storage = pa.array([[] for _ in range(len(values))], type=storage_type)
        else:
            storage = pa.FixedSizeListArray.from_arrays(pa.array(values.reshape(-1), type=arrow_type), type=storage_type)
        arr = pa.ExtensionArray.from_storage(tensor_type, storage)
    return pa.field(name, arr.type, nullable=False, metadata=meta or None), arr


def sample(dtype_name, shape, rng):
    n = int(np.prod(shape)) if shape else 1
    if dtype_name == "bool":
        v = rng.integers(0, 2, n)
    elif dtype_name == "bfloat16":
        f = (rng.integers(-400, 400, n) / 4).astype(np.float32)
        v = (f.view(np.uint32) >> 16).astype(np.uint16)
    elif dtype_name.startswith("float"):
        v = rng.integers(-4000, 4000, n) / 4
    else:
        info = np.iinfo(DTYPES[dtype_name][0])
        v = rng.integers(info.min, info.max, n, dtype=DTYPES[dtype_name][0], endpoint=True)
    return np.asarray(v).astype(DTYPES[dtype_name][0]).reshape(shape)


def write(directory):
    rng = np.random.default_rng(20260101)
    shapes = [(), (5,), (0,), (3, 4), (2, 0), (0, 3), (2, 3, 4), (2, 1, 0, 3), (3, 2, 2, 2)]
    shards = []

    def emit(file, columns):
        fields, arrays, listed = [], [], []
        for i, (name, dtype_name, values) in enumerate(columns):
            field, arr = tensor_column(name, dtype_name, values)
            fields.append(field)
            arrays.append(arr)
            raw = "%s.%d.raw" % (file, i)
            with open(os.path.join(directory, raw), "wb") as r:
                r.write(np.ascontiguousarray(values).tobytes())
            listed.append({"name": name, "dtype": dtype_name, "shape": list(values.shape), "raw": raw})
        batch = pa.record_batch(arrays, schema=pa.schema(fields))
        with open(os.path.join(directory, file), "wb") as f:
            with ipc.new_stream(f, batch.schema) as w:
                w.write_batch(batch)
        shards.append({"file": file, "columns": listed})

    for dtype_name in DTYPES:
        for k, shape in enumerate(shapes):
            emit("%s_%d.arrow" % (dtype_name, k), [("t", dtype_name, sample(dtype_name, shape, rng))])
    emit("mixed.arrow", [
        ("input_ids", "int64", sample("int64", (4,), rng)),
        ("pixels", "uint8", sample("uint8", (4, 3, 2, 2), rng)),
        ("logprobs", "float32", sample("float32", (4, 7), rng)),
        ("mask", "bool", sample("bool", (4, 7), rng)),
        ("hidden", "bfloat16", sample("bfloat16", (4, 2, 3), rng)),
    ])
    with open(os.path.join(directory, "manifest.json"), "w") as f:
        json.dump({"shards": shards}, f, indent=1)
    # The same, one column a line, for the Java side: file, name, dtype, shape, raw file.
    with open(os.path.join(directory, "manifest.tsv"), "w") as f:
        for shard in shards:
            for col in shard["columns"]:
                f.write("%s\t%s\t%s\t%s\t%s\n" % (
                    shard["file"], col["name"], col["dtype"], ",".join(map(str, col["shape"])), col["raw"]))
    print("pyarrow %s wrote %d shards" % (pa.__version__, len(shards)))


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("read", "write"):
        sys.stderr.write(__doc__)
        sys.exit(2)
    {"read": read, "write": write}[sys.argv[1]](sys.argv[2])
