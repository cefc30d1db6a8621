package io.rtensor.host;

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
 * whose shards are cleared every step keeps all of these flat.
 *
 * <p>A plain serializable class (not a record): it crosses Ray's Java serializer.
 */
public final class WorkerMemory implements Serializable {
  private static final long serialVersionUID = 1L;

  private final String workerId;
  private final long pid;
  private final long heapUsedBytes;
  private final long heapMaxBytes;
  private final long arrowBytes;
  private final long storedShards;
  private final long storedBytes;
  private final long cachedShards;
  private final long cachedBytes;

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
      long cachedBytes) {
    this.workerId = workerId;
    this.pid = pid;
    this.heapUsedBytes = heapUsedBytes;
    this.heapMaxBytes = heapMaxBytes;
    this.arrowBytes = arrowBytes;
    this.storedShards = storedShards;
    this.storedBytes = storedBytes;
    this.cachedShards = cachedShards;
    this.cachedBytes = cachedBytes;
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
    return new WorkerMemory(
        workerId,
        ProcessHandle.current().pid(),
        heap,
        Runtime.getRuntime().maxMemory(),
        allocator.getAllocatedMemory(),
        store.entries(),
        store.bytes(),
        cache.entries(),
        cache.bytes());
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

  @Override
  public String toString() {
    return String.format(
        Locale.ROOT,
        "%s (pid %d): heap %.1f MiB, Arrow %d bytes, stored %d shards / %d bytes,"
            + " cached %d shards / %d bytes",
        workerId,
        pid,
        heapUsedBytes / 1048576.0,
        arrowBytes,
        storedShards,
        storedBytes,
        cachedShards,
        cachedBytes);
  }
}
