package io.rtensor.bench;

import io.ray.api.ObjectRef;
import io.ray.api.Ray;
import io.rtensor.device.HostMemory;
import io.rtensor.memory.BulkCopier;
import io.rtensor.transport.ray.RayCoreObjects;
import java.util.ArrayList;
import java.util.List;

/**
 * {@link DeviceBenchEngine} on Ray actors, whose raw chain goes through the object store instead of
 * a socket: the producer copies every shard to page-locked memory with the driver's own copy and
 * then puts each into a plasma object (create, one multi-threaded memcpy, seal: what {@code
 * ray.put} of a buffer does) ({@link #rawPut}); the consumer gets the objects (mapped, as {@code
 * ray.get} maps them) and copies each from its mapping onto its device with the driver's own copy
 * ({@link #rawGet}). The producer frees a step's objects at the start of its next put, as a Python
 * producer's objects go when their references are dropped.
 */
public class RayDeviceBenchEngine extends DeviceBenchEngine {
  private List<ObjectRef<?>> previous = List.of();

  public RayDeviceBenchEngine() {}

  /**
   * The producer's half of the raw chain: every shard to page-locked memory, then each into a
   * plasma object of its own; returns the objects' references.
   */
  public List<Object> rawPut() {
    String unavailable = RayCoreObjects.unavailableReason();
    if (unavailable != null) {
      throw new IllegalStateException(
          "the raw plasma chain needs Ray's core worker: " + unavailable);
    }
    if (!previous.isEmpty()) {
      Ray.internal().free(previous, false);
      previous = List.of();
    }
    copyShardsToStaging();
    List<ObjectRef<?>> refs = new ArrayList<>(count());
    List<Object> out = new ArrayList<>(count());
    for (int i = 0; i < count(); i++) {
      HostMemory slice = stagingSlice(i);
      ObjectRef<byte[]> ref =
          RayCoreObjects.put(
              shardBytes(),
              memory ->
                  BulkCopier.shared().copy(memory.memoryAddress(), slice.address(), shardBytes()));
      refs.add(ref);
      out.add(ref);
    }
    previous = refs;
    return out;
  }

  /**
   * The consumer's half of the raw chain: the objects mapped in one get, then each copied from its
   * mapping onto this device (the driver's copy, called directly); returns their bytes.
   */
  public long rawGet(List<?> refs) {
    List<ObjectRef<?>> list = new ArrayList<>(refs.size());
    refs.forEach(r -> list.add((ObjectRef<?>) r));
    List<RayCoreObjects.Fetched> got = RayCoreObjects.get(list, STEP_TIMEOUT_MS);
    try {
      if (got.size() != count()) {
        throw new IllegalStateException(got.size() + " objects for " + count() + " buffers");
      }
      for (RayCoreObjects.Fetched f : got) {
        if (!f.isBytes() || f.size() != shardBytes()) {
          throw new IllegalStateException(
              "an object of the raw chain is not "
                  + shardBytes()
                  + " bytes (error: "
                  + f.isError()
                  + ")");
        }
      }
      copyStagingToDevice(i -> HostMemory.pageable(got.get(i).address(), got.get(i).size()));
      return count() * shardBytes();
    } finally {
      got.forEach(RayCoreObjects.Fetched::close);
    }
  }
}
