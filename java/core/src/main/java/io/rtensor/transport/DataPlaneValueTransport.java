package io.rtensor.transport;

import io.rtensor.tensor.Tensor;
import io.rtensor.tensor.TensorBatch;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.apache.arrow.memory.BufferAllocator;

/**
 * The {@link ValueTransport} of a worker, backed by a {@link DataPlane}: engines receive localized
 * tensors, and tensors they return become handles.
 *
 * <p>Ownership. Localized arguments are this worker's cached copies, borrowed: an engine must not
 * close them, and they stay valid until their shards are cleared here ({@link #evict}); an engine
 * that keeps one beyond that calls {@code share()}. Tensors and batches an engine returns are
 * handed over: they are stored and then closed, so an engine that keeps a tensor it returns returns
 * {@code share()} of it.
 */
public final class DataPlaneValueTransport implements ValueTransport, AutoCloseable {
  private final DataPlane plane;
  private final FetchCache cache;
  private final Remotizer remotizer;

  /**
   * A transport over {@code plane}, decoding fetched shards into {@code allocator} and caching at
   * most {@code cacheCapBytes} of them. Shards the plane removes in this process are evicted from
   * the cache.
   */
  public DataPlaneValueTransport(DataPlane plane, BufferAllocator allocator, long cacheCapBytes) {
    this.plane = Objects.requireNonNull(plane, "plane");
    this.cache = new FetchCache(cacheCapBytes);
    this.remotizer = new Remotizer(plane, cache, allocator);
    plane.onShardsRemoved(cache::evict);
  }

  @Override
  public Object localize(Object value) {
    return remotizer.localizeBorrowed(value);
  }

  @Override
  public Object remotize(Object value) {
    try {
      return remotizer.remotize(value);
    } finally {
      closeTensors(value);
    }
  }

  private static void closeTensors(Object value) {
    if (value instanceof Tensor t) {
      t.close();
    } else if (value instanceof TensorBatch b) {
      b.close();
    } else if (value instanceof Map<?, ?> m) {
      m.values().forEach(DataPlaneValueTransport::closeTensors);
    } else if (value instanceof List<?> l) {
      l.forEach(DataPlaneValueTransport::closeTensors);
    } else if (value instanceof Object[] a) {
      for (Object o : a) {
        closeTensors(o);
      }
    }
  }

  /**
   * The clear call every engine server handles: drops {@code shardIds} from this worker's fetch
   * cache and the plane's references to them ({@link DataPlane#release}). Returns how many were
   * cached.
   */
  @Override
  public int evict(Collection<String> shardIds) {
    plane.release(shardIds);
    return cache.evict(shardIds);
  }

  /** The plane. */
  public DataPlane plane() {
    return plane;
  }

  /** The fetch cache (stats). */
  public FetchCache cache() {
    return cache;
  }

  /** The remotizer over the plane and cache. */
  public Remotizer remotizer() {
    return remotizer;
  }

  /** Drops the cache (not the plane, which its creator owns). */
  @Override
  public void close() {
    cache.close();
  }
}
