package io.rtensor.transport;

import io.rtensor.handle.RTensor;
import io.rtensor.tensor.TensorBatch;
import java.util.Collection;
import java.util.Map;
import java.util.function.Consumer;
import org.apache.arrow.memory.BufferAllocator;

/**
 * Stores and fetches shards: one Arrow IPC stream per {@link TensorBatch}. Implementations: {@link
 * FlightDataPlane} (worker Flight servers) and {@code RayObjectStorePlane} (Ray's object store, in
 * rtensor-ray). One instance per process and scheduler; it is handed to whoever needs it, never
 * found through global state. Thread-safe.
 */
public interface DataPlane extends AutoCloseable {
  /** Which plane this is. */
  DataPlaneKind kind();

  /**
   * Stores {@code batch} as one shard and returns a {@link RTensor.Kind#BATCH} handle to it. The
   * batch stays the caller's: its bytes are copied into the store.
   *
   * @throws ShardStoreFullException if the store's cap refuses the shard (nothing else is lost)
   */
  RTensor put(TensorBatch batch);

  /**
   * Stores the shard {@code shard} writes and returns a {@link RTensor.Kind#BATCH} handle to it. A
   * plane that stores shards in this process's memory lays the shard out there and has {@code
   * shard} write each column's bytes in place, so they are copied once (for a device tensor: one
   * DMA into the store). This default writes them into a batch of temporary host memory and {@link
   * #put(TensorBatch) puts} that: one more copy.
   *
   * @throws ShardStoreFullException if the store's cap refuses the shard (nothing else is lost)
   */
  default RTensor put(ShardWriter shard) {
    try (BufferAllocator scratch = new org.apache.arrow.memory.RootAllocator();
        TensorBatch batch = shard.toBatch(scratch)) {
      return put(batch);
    }
  }

  /**
   * Whether {@link #putDeferred} keeps a shard's source until the shard is cleared and writes its
   * bytes only when it is first fetched (a plane with a store in this process), rather than at
   * once.
   */
  default boolean defersPuts() {
    return false;
  }

  /**
   * Stores the shard {@code shard} writes, keeping {@code source} (what {@code shard} reads: a
   * device tensor) until the shard is cleared, when it is closed. A plane that {@link #defersPuts
   * defers} writes the shard's bytes only when it is first fetched, so a shard nobody fetches
   * through the plane (one handed over another way, by CUDA IPC) is never copied to the host. This
   * default stores it at once ({@link #put(ShardWriter)}) and closes {@code source}. When this
   * throws, {@code source} has been closed and nothing is stored.
   *
   * @throws ShardStoreFullException if the store's cap refuses the shard (a deferring plane: when
   *     it is written, failing that fetch)
   */
  default RTensor putDeferred(ShardWriter shard, AutoCloseable source) {
    RTensor handle;
    try {
      handle = put(shard);
    } catch (RuntimeException e) {
      try {
        source.close();
      } catch (Exception closeFailure) {
        e.addSuppressed(closeFailure);
      }
      throw e;
    }
    try {
      source.close();
    } catch (Exception e) {
      clear(java.util.List.of(handle));
      throw new IllegalStateException("closing a stored shard's source failed", e);
    }
    return handle;
  }

  /**
   * Fetches the shards of {@code handles} in one concurrent batch, grouped by location. Returns
   * shard id to a batch decoded into {@code allocator}, owned by the caller.
   *
   * @throws MissingShardsException listing exactly the ids no location has (nothing is returned)
   */
  Map<String, TensorBatch> fetch(Collection<RTensor> handles, BufferAllocator allocator);

  /**
   * Like {@link #fetch}, for a caller that only reads what it gets: every tensor returned is
   * read-only ({@link io.rtensor.tensor.Tensor#isReadOnly()}), so a plane may hand out the stored
   * bytes in place instead of a copy. The Ray object store plane maps its objects (no copy; each
   * batch holds its object until closed); by default this is {@link #fetch} and read-only views of
   * the copies.
   *
   * @throws MissingShardsException listing exactly the ids no location has (nothing is returned)
   */
  default Map<String, TensorBatch> fetchReadOnly(
      Collection<RTensor> handles, BufferAllocator allocator) {
    return readOnly(fetch(handles, allocator));
  }

  /**
   * {@code fetched} with every batch read-only: those that are (mapped) as they are, the others as
   * read-only views, their originals closed. On a failure every batch of {@code fetched} is closed.
   */
  static Map<String, TensorBatch> readOnly(Map<String, TensorBatch> fetched) {
    Map<String, TensorBatch> out = new java.util.LinkedHashMap<>();
    try {
      for (Map.Entry<String, TensorBatch> e : fetched.entrySet()) {
        TensorBatch b = e.getValue();
        if (b.isReadOnly()) {
          out.put(e.getKey(), b);
        } else {
          out.put(e.getKey(), b.readOnlyView());
          b.close();
        }
      }
      return out;
    } catch (RuntimeException | Error e) {
      out.values().forEach(TensorBatch::close);
      fetched.forEach(
          (id, b) -> {
            if (!out.containsKey(id)) {
              b.close();
            }
          });
      throw e;
    }
  }

  /**
   * Removes shards {@code shardIds} from the location {@code locationKey} ({@link
   * io.rtensor.handle.ShardLocation#key()}); unknown ids are ignored. The owning process also
   * evicts them from its fetch cache.
   */
  ClearResult clear(String locationKey, Collection<String> shardIds);

  /** Clears the shards {@code handles} name, grouped by location; returns location to result. */
  default Map<String, ClearResult> clear(Collection<RTensor> handles) {
    Map<String, java.util.List<String>> byLocation = new java.util.LinkedHashMap<>();
    for (RTensor h : handles) {
      byLocation
          .computeIfAbsent(h.location().key(), k -> new java.util.ArrayList<>())
          .add(h.shardId());
    }
    Map<String, ClearResult> out = new java.util.LinkedHashMap<>();
    byLocation.forEach((location, ids) -> out.put(location, clear(location, ids)));
    return out;
  }

  /**
   * Drops what this process holds for shards that were cleared elsewhere (a controller cleared them
   * at their store), so a long run keeps nothing per cleared shard; frees and fetches nothing. The
   * clear call every worker handles runs this for the ids it is given.
   */
  default void release(Collection<String> shardIds) {}

  /** Entries and bytes stored at {@code locationKey}. */
  StoreStats stats(String locationKey);

  /** The location key this plane's {@link #put} stores to. */
  String putLocation();

  /**
   * Calls {@code listener} with the ids of shards this process stored whenever they are removed (by
   * a local or a remote clear), so the process can evict them from its own fetch cache.
   */
  void onShardsRemoved(Consumer<Collection<String>> listener);

  /** Releases what this plane holds (connections, a local store). */
  @Override
  void close();
}
