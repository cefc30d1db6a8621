package io.rtensor.bench;

import io.rtensor.rtensor.Remotizer;
import io.rtensor.tensor.DType;
import io.rtensor.tensor.Shape;
import io.rtensor.tensor.Tensor;
import io.rtensor.transport.RayObjectStorePlane;
import java.util.ArrayList;
import java.util.List;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;

/** The Java actors of {@link RayPutGetWorkload}: put shards, localize them, free them. */
public class BenchShardActor {
  private final BufferAllocator allocator = new RootAllocator();
  private final RayObjectStorePlane plane = new RayObjectStorePlane();
  private final Remotizer remotizer = new Remotizer(plane, null, allocator);
  private Tensor payload;

  public BenchShardActor() {}

  /** {@code count} uint8 shards of {@code bytes} bytes each, as handles. */
  public List<Object> produce(int count, long bytes) {
    if (payload == null || payload.byteSize() != bytes) {
      if (payload != null) {
        payload.close();
      }
      payload = Tensor.allocate(allocator, DType.UINT8, Shape.of(bytes));
    }
    List<Object> out = new ArrayList<>(count);
    for (int i = 0; i < count; i++) {
      out.add(payload);
    }
    return (List<Object>) remotizer.remotize(out);
  }

  /** Localizes the handles in one batch; returns the bytes. */
  public long consume(List<Object> handles) {
    long n = 0;
    for (Object o : (List<?>) remotizer.localize(handles)) {
      n += ((Tensor) o).byteSize();
      ((Tensor) o).close();
    }
    return n;
  }

  /** Frees the shards. */
  public long clear(List<Object> handles) {
    return remotizer.clearAll(handles).values().stream().mapToLong(r -> r.cleared()).sum();
  }
}
