"""Python side of the Ray interop tests: read shards Java put, produce shards Java reads."""
import numpy as np
import pyarrow as pa


def describe_shard(data):
    """Ray resolves the Java-put object (a top-level ObjectRef argument) to its RAW bytes, as
    ray.get would: decode them with pyarrow. A reference nested in a Java value cannot reach Python
    (Java serializes containers with FST: "Can't transfer JAVA data to PYTHON")."""
    table = pa.ipc.open_stream(pa.py_buffer(data)).read_all()
    values = table.column("tensor").to_numpy()
    return "%s %d %.1f" % (values.dtype, len(values), float(values.sum()))


def produce_shard(n):
    """An Arrow IPC stream of one int64 column 'tensor' = 0..n-1, stored by Ray as RAW bytes."""
    import ray

    batch = pa.record_batch([pa.array(np.arange(n, dtype=np.int64))], names=["tensor"])
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema) as writer:
        writer.write_batch(batch)
    data = sink.getvalue().to_pybytes()
    # ray.put stores bytes as RAW (what Java reads); returning them stores the same object kind.
    assert ray.get(ray.put(data)) == data
    return data
