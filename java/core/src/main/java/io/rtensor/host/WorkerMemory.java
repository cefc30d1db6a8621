package io.rtensor.host;

import io.rtensor.tensor.DeviceCopiers;
import io.rtensor.transport.FetchCache;
import io.rtensor.transport.StoreStats;
import io.rtensor.transport.WorkerDataPlane;
import java.io.Serializable;
import java.util.Locale;
import org.apache.arrow.memory.BufferAllocator;

/**
 * What a worker process holds, read in that process by {@link Scheduler#workerMemory}: its Java
 * heap after a garbage collection, the Arrow memory of its allocator (shard store, fetch cache,
 * tensors engines hold), the shards it stores and the shards its fetch cache holds. A long run
 * whose shards are cleared every step keeps all of these flat. With them, the device copies its
 * data plane has made since it started (bytes and time, each direction), which only grow: device
 * tensors engines returned, copied into the store, and tensors received on the worker's device.
 *
 * <p>A plain serializable class (not a record): it crosses Ray's Java serializer.
 */
public final class WorkerMemory implements Serializable {
  private static final long serialVersionUID = 2L;

  private final String workerId;
  private final long pid;
  private final long heapUsedBytes;
  private final long heapMaxBytes;
  private final long arrowBytes;
  private final long storedShards;
  private final long storedBytes;
  private final long cachedShards;
  private final long cachedBytes;
  private final long copiedToHostBytes;
  private final long copiedToHostNanos;
  private final long copiedToDeviceBytes;
  private final long copiedToDeviceNanos;
  private final long copiedOnDeviceBytes;
  private final long copiedOnDeviceNanos;

  /** A reading; see the accessors for each field. */
  public WorkerMemory(
      String workerId,
      long pid,
      long heapUsedBytes,
      long heapMaxBytes,
      long arrowBytes,
      long storedShards,
      long storedBytes,
      long cachedShards,
      long cachedBytes,
      long copiedToHostBytes,
      long copiedToHostNanos,
      long copiedToDeviceBytes,
      long copiedToDeviceNanos,
      long copiedOnDeviceBytes,
      long copiedOnDeviceNanos) {
    this.workerId = workerId;
    this.pid = pid;
    this.heapUsedBytes = heapUsedBytes;
    this.heapMaxBytes = heapMaxBytes;
    this.arrowBytes = arrowBytes;
    this.storedShards = storedShards;
    this.storedBytes = storedBytes;
    this.cachedShards = cachedShards;
    this.cachedBytes = cachedBytes;
    this.copiedToHostBytes = copiedToHostBytes;
    this.copiedToHostNanos = copiedToHostNanos;
    this.copiedToDeviceBytes = copiedToDeviceBytes;
    this.copiedToDeviceNanos = copiedToDeviceNanos;
    this.copiedOnDeviceBytes = copiedOnDeviceBytes;
    this.copiedOnDeviceNanos = copiedOnDeviceNanos;
  }

  /**
   * Reads this process: collects garbage first (a full collection, tens of milliseconds), so the
   * heap figure is what is live.
   */
  public static WorkerMemory read(
      String workerId, WorkerDataPlane data, BufferAllocator allocator) {
    long heap = liveHeapBytes();
    StoreStats store = data.plane().stats(data.plane().putLocation());
    FetchCache.Stats cache = data.transport().cache().stats();
    DeviceCopiers.Totals toHost = data.transport().copiers().copiedToHost();
    DeviceCopiers.Totals toDevice = data.transport().copiers().copiedToDevice();
    DeviceCopiers.Totals onDevice = data.transport().copiers().copiedOnDevice();
    return new WorkerMemory(
        workerId,
        ProcessHandle.current().pid(),
        heap,
        Runtime.getRuntime().maxMemory(),
        allocator.getAllocatedMemory(),
        store.entries(),
        store.bytes(),
        cache.entries(),
        cache.bytes(),
        toHost.bytes(),
        toHost.nanos(),
        toDevice.bytes(),
        toDevice.nanos(),
        onDevice.bytes(),
        onDevice.nanos());
  }

  /** This process's Java heap in use after a full garbage collection (tens of milliseconds). */
  public static long liveHeapBytes() {
    Runtime runtime = Runtime.getRuntime();
    System.gc();
    return runtime.totalMemory() - runtime.freeMemory();
  }

  /** The worker's id ({@code role/index}). */
  public String workerId() {
    return workerId;
  }

  /** The worker's process id. */
  public long pid() {
    return pid;
  }

  /** Java heap in use after a garbage collection. */
  public long heapUsedBytes() {
    return heapUsedBytes;
  }

  /** The Java heap's limit. */
  public long heapMaxBytes() {
    return heapMaxBytes;
  }

  /** Arrow memory allocated by the worker's allocator (store, cache, tensors engines hold). */
  public long arrowBytes() {
    return arrowBytes;
  }

  /**
   * Shards this worker stores: in its Flight store, or on the object store the objects it put and
   * nobody has cleared.
   */
  public long storedShards() {
    return storedShards;
  }

  /** Bytes of {@link #storedShards()}. */
  public long storedBytes() {
    return storedBytes;
  }

  /** Shards in the worker's fetch cache. */
  public long cachedShards() {
    return cachedShards;
  }

  /** Bytes of {@link #cachedShards()}. */
  public long cachedBytes() {
    return cachedBytes;
  }

  /**
   * Bytes the worker's data plane copied from a device to the host since the worker started: device
   * tensors its engines returned, stored as shards.
   */
  public long copiedToHostBytes() {
    return copiedToHostBytes;
  }

  /** Time spent in the copies of {@link #copiedToHostBytes()}, summed over copies. */
  public long copiedToHostNanos() {
    return copiedToHostNanos;
  }

  /**
   * Bytes the worker's data plane copied from the host to a device since the worker started:
   * tensors its engines received on a device ({@code DeviceTensor} parameters, {@code
   * CallOptions.withDevice}).
   */
  public long copiedToDeviceBytes() {
    return copiedToDeviceBytes;
  }

  /** Time spent in the copies of {@link #copiedToDeviceBytes()}, summed over copies. */
  public long copiedToDeviceNanos() {
    return copiedToDeviceNanos;
  }

  /**
   * Bytes the worker's data plane copied device to device since the worker started: tensors other
   * workers of this machine kept on their devices ({@code @KeepOnDevice}), received here by CUDA
   * IPC.
   */
  public long copiedOnDeviceBytes() {
    return copiedOnDeviceBytes;
  }

  /** Time spent in the copies of {@link #copiedOnDeviceBytes()}, summed over copies. */
  public long copiedOnDeviceNanos() {
    return copiedOnDeviceNanos;
  }

  @Override
  public String toString() {
    return String.format(
        Locale.ROOT,
        "%s (pid %d): heap %.1f MiB, Arrow %d bytes, stored %d shards / %d bytes,"
            + " cached %d shards / %d bytes%s%s",
        workerId,
        pid,
        heapUsedBytes / 1048576.0,
        arrowBytes,
        storedShards,
        storedBytes,
        cachedShards,
        cachedBytes,
        copiedToHostBytes == 0 && copiedToDeviceBytes == 0
            ? ""
            : ", copied device to host "
                + copiedToHostBytes
                + " bytes, host to device "
                + copiedToDeviceBytes
                + " bytes",
        copiedOnDeviceBytes == 0 ? "" : ", device to device " + copiedOnDeviceBytes + " bytes");
  }
}
