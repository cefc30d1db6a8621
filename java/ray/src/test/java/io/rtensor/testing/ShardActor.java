package io.rtensor.testing;

import io.rtensor.handle.RTensor;
import io.rtensor.tensor.Tensor;
import io.rtensor.transport.FetchCache;
import io.rtensor.transport.Remotizer;
import io.rtensor.transport.ray.RayObjectStorePlane;
import io.rtensor.wire.DecodeLimits;
import java.util.ArrayList;
import java.util.List;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;

/** A Ray actor that produces and consumes shards through the Ray object store plane. */
public class ShardActor {
  private final BufferAllocator allocator = new RootAllocator();
  private final RayObjectStorePlane plane;
  private final FetchCache cache = new FetchCache(1L << 30);
  private final Remotizer remotizer;

  /** An actor whose plane moves bytes as it does by default ({@code AUTO}). */
  public ShardActor() {
    this("AUTO");
  }

  /** An actor whose plane moves bytes as {@code access} (a {@code ObjectAccess} name) says. */
  public ShardActor(String access) {
    plane =
        new RayObjectStorePlane(
            DecodeLimits.DEFAULT, 300_000, RayObjectStorePlane.ObjectAccess.valueOf(access));
    remotizer = new Remotizer(plane, cache, allocator);
  }

  /** How this actor's plane moves bytes. */
  public String access() {
    return plane.access().name();
  }

  public long pid() {
    return ProcessHandle.current().pid();
  }

  /** {@code count} float32 tensors of {@code n} values {@code k * 1000 + i}, as handles. */
  public List<Object> produce(int count, int n) {
    List<Object> out = new ArrayList<>();
    for (int k = 0; k < count; k++) {
      float[] v = new float[n];
      for (int i = 0; i < n; i++) {
        v[i] = k * 1000 + i;
      }
      try (Tensor t = Tensor.of(allocator, v)) {
        out.add(remotizer.remotize(t));
      }
    }
    return out;
  }

  /** One {@code bytes}-byte uint8 shard, filled by {@link SeededShards#fill} from {@code seed}. */
  public List<Object> produceBytes(long bytes, long seed) {
    try (Tensor t =
        Tensor.allocateUninitialized(
            allocator, io.rtensor.tensor.DType.UINT8, io.rtensor.tensor.Shape.of(bytes))) {
      SeededShards.fill(t, seed);
      return List.of(remotizer.remotize(t));
    }
  }

  /** Localizes the handles (through this actor's cache) and sums every value. */
  public double consume(List<Object> handles) {
    List<?> local = (List<?>) remotizer.localizeBorrowed(handles);
    double sum = 0;
    for (Object o : local) {
      for (float f : ((Tensor) o).toFloatArray()) {
        sum += f;
      }
    }
    return sum;
  }

  /** Localizes and returns only the byte count (for the benchmark). */
  public long consumeBytes(List<Object> handles) {
    Object local = remotizer.localize(handles);
    long n = 0;
    for (Object o : (List<?>) local) {
      n += ((Tensor) o).byteSize();
      ((Tensor) o).close();
    }
    return n;
  }

  /** The clear call a consumer handles: drops these shards from its cache. */
  public int evict(List<String> shardIds) {
    return cache.evict(shardIds);
  }

  /** Frees the shards (the owner's clear). */
  public long clear(List<Object> handles) {
    return remotizer.clearCounted(handles);
  }

  public int cacheEntries() {
    return cache.stats().entries();
  }

  /** Arrow bytes this actor holds. */
  public long allocated() {
    return allocator.getAllocatedMemory();
  }

  /** The first handle's shard id. */
  public static String idOf(Object handle) {
    return ((RTensor) handle).shardId();
  }
}
