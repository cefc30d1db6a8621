package io.rtensor.transport;

import io.rtensor.tensor.Tensor;
import io.rtensor.tensor.TensorBatch;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The shards this process fetched, by shard id, so that localizing a handle again costs no fetch.
 *
 * <p>Semantics (those AReaL settled on after its memory-growth bug, issue 1209): an entry stays
 * until it is explicitly drained, by {@link #evict} for the shards a clear names or by {@link
 * #clear()}; every process that localizes shards (the controller, each consumer worker) drains its
 * own cache when a clear reaches it, and the worker owning a shard evicts it when the shard is
 * removed.
 *
 * <p>Cap policy: nothing is evicted implicitly (a handle the program still holds must keep
 * working). An insertion that would take the cached bytes past the cap is refused with {@link
 * FetchCacheFullException}; what is cached stays. The cache holds one reference to each cached
 * batch; closing the cache drops them all.
 */
public final class FetchCache implements AutoCloseable {
  private final long capBytes;
  private final Map<String, Entry> entries = new LinkedHashMap<>();
  private long bytes;
  private long hits;
  private long misses;

  /** Counts of a cache at one moment. */
  public record Stats(int entries, long bytes, long capBytes, long hits, long misses) {}

  private record Entry(TensorBatch batch, long bytes) {}

  /** A cache holding at most {@code capBytes} bytes of tensor data. */
  public FetchCache(long capBytes) {
    if (capBytes < 0) {
      throw new IllegalArgumentException("cap must be >= 0, got " + capBytes);
    }
    this.capBytes = capBytes;
  }

  /**
   * The cached batch of {@code shardId}, borrowed (do not close it), or null; counts a hit/miss.
   */
  public synchronized TensorBatch lookup(String shardId) {
    Entry e = entries.get(shardId);
    if (e == null) {
      misses++;
      return null;
    }
    hits++;
    return e.batch;
  }

  /** The cached batch of {@code shardId}, borrowed, or null; counts nothing. */
  public synchronized TensorBatch peek(String shardId) {
    Entry e = entries.get(shardId);
    return e == null ? null : e.batch;
  }

  /**
   * Caches every batch of {@code fetched} (shard id to batch), taking ownership of all of them, all
   * or none. A shard already cached keeps its entry and the new batch is closed.
   *
   * @throws FetchCacheFullException if the new bytes would exceed the cap; the batches are closed
   */
  public synchronized void putAll(Map<String, TensorBatch> fetched) {
    long add = 0;
    for (Map.Entry<String, TensorBatch> e : fetched.entrySet()) {
      if (!entries.containsKey(e.getKey())) {
        add += sizeOf(e.getValue());
      }
    }
    if (add > capBytes - bytes) {
      fetched.values().forEach(TensorBatch::close);
      throw new FetchCacheFullException(capBytes, bytes, add);
    }
    for (Map.Entry<String, TensorBatch> e : fetched.entrySet()) {
      if (entries.containsKey(e.getKey())) {
        e.getValue().close();
      } else {
        long size = sizeOf(e.getValue());
        entries.put(e.getKey(), new Entry(e.getValue(), size));
        bytes += size;
      }
    }
  }

  /** Drops the entries of {@code shardIds}; returns how many were cached. */
  public synchronized int evict(Collection<String> shardIds) {
    int n = 0;
    for (String id : shardIds) {
      Entry e = entries.remove(id);
      if (e != null) {
        bytes -= e.bytes;
        e.batch.close();
        n++;
      }
    }
    return n;
  }

  /** Drops every entry; returns how many there were. */
  public synchronized int clear() {
    return evict(List.copyOf(entries.keySet()));
  }

  /** Entries, bytes, cap, hits and misses now. */
  public synchronized Stats stats() {
    return new Stats(entries.size(), bytes, capBytes, hits, misses);
  }

  /** Drops every entry. */
  @Override
  public void close() {
    clear();
  }

  static long sizeOf(TensorBatch batch) {
    long n = 0;
    for (Tensor t : batch.tensors().values()) {
      n += t.byteSize();
    }
    return n;
  }
}
