package io.rtensor.testing;

import io.ray.api.Ray;
import io.rtensor.handle.RTensor;
import io.rtensor.tensor.Tensor;
import io.rtensor.tensor.TensorBatch;
import io.rtensor.wire.ShardCodec;
import org.apache.arrow.memory.RootAllocator;

/** A plain Ray actor that says where it runs and makes a shard slowly (as a task result). */
public class NodeActor {
  public String nodeId() {
    return Ray.getRuntimeContext().getCurrentNodeId().toString();
  }

  public String nodeIp() {
    return System.getProperty("ray.node-ip", "");
  }

  public long pid() {
    return ProcessHandle.current().pid();
  }

  /**
   * After {@code delayMillis}, a shard of {@code n} int64 values {@code 0..n-1} (column {@link
   * RTensor#TENSOR_COLUMN}) as Arrow IPC stream bytes: the result object is a {@code RAW} object a
   * Ray object-store handle can name before it exists.
   */
  public byte[] slowShard(long delayMillis, int n) throws InterruptedException {
    Thread.sleep(delayMillis);
    long[] values = new long[n];
    for (int i = 0; i < n; i++) {
      values[i] = i;
    }
    try (RootAllocator allocator = new RootAllocator();
        Tensor t = Tensor.of(allocator, values);
        TensorBatch batch = TensorBatch.of(RTensor.TENSOR_COLUMN, t.share())) {
      return ShardCodec.encode(batch);
    }
  }
}
