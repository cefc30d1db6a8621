package io.rtensor.transport;

import io.rtensor.device.Device;
import io.rtensor.handle.RTensor;
import io.rtensor.tensor.DeviceCopiers;
import io.rtensor.tensor.DeviceTensor;
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
 * {@code share()} of it. Device tensors an engine returns are stored with one device-to-host copy
 * into the store's memory; an engine parameter of type {@link DeviceTensor} gets a tensor on the
 * worker's device, copied from the (borrowed) localized host tensor ({@link #toDevice}).
 */
public final class DataPlaneValueTransport implements ValueTransport, AutoCloseable {
  private final DataPlane plane;
  private final FetchCache cache;
  private final Remotizer remotizer;
  private final DeviceCopiers copiers = new DeviceCopiers();
  private final DeviceIpc ipc = new DeviceIpc();

  /**
   * A transport over {@code plane}, decoding fetched shards into {@code allocator} and caching at
   * most {@code cacheCapBytes} of them. Shards the plane removes in this process are evicted from
   * the cache.
   */
  public DataPlaneValueTransport(DataPlane plane, BufferAllocator allocator, long cacheCapBytes) {
    this.plane = Objects.requireNonNull(plane, "plane");
    this.cache = new FetchCache(cacheCapBytes);
    this.remotizer = new Remotizer(plane, cache, allocator, copiers);
    plane.onShardsRemoved(cache::evict);
  }

  @Override
  public Object localize(Object value) {
    return remotizer.localizeBorrowed(value);
  }

  @Override
  public Object remotize(Object value) {
    return remotize(value, false);
  }

  /**
   * {@link #remotize(Object)}; with {@code keepOnDevice}, device tensors stay in device memory
   * until cleared and are copied to the host only when fetched ({@link Remotizer#remotize(Object,
   * boolean)}).
   */
  @Override
  public Object remotize(Object value, boolean keepOnDevice) {
    try {
      return remotizer.remotize(value, keepOnDevice);
    } finally {
      closeTensors(value);
    }
  }

  @Override
  public boolean canOpenOnDevice(RTensor handle, Device device) {
    return DeviceIpc.canOpen(handle, device);
  }

  /**
   * A copy on {@code device} of the device tensor {@code handle} names, made device to device from
   * its producer's memory by CUDA IPC ({@link DeviceIpc}); null when it cannot be.
   */
  @Override
  public DeviceTensor openOnDevice(RTensor handle, Device device) {
    return ipc.copyOnDevice(handle, device, copiers);
  }

  /**
   * A pipelined host-to-device copy (one chunked DMA from {@code host}'s memory when it is
   * page-locked, as the fetch cache of a worker with a device is).
   */
  @Override
  public DeviceTensor toDevice(Tensor host, Device device) {
    return copiers.toDevice(host, device);
  }

  private static void closeTensors(Object value) {
    if (value instanceof Tensor t) {
      t.close();
    } else if (value instanceof DeviceTensor t) {
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
    ipc.evict(shardIds);
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

  /**
   * The device copiers: device tensors engines return are stored, and {@link DeviceTensor}
   * parameters received, through them (their totals count those copies).
   */
  public DeviceCopiers copiers() {
    return copiers;
  }

  /** The remotizer over the plane and cache. */
  public Remotizer remotizer() {
    return remotizer;
  }

  /** The device memory of other processes this one has mapped (CUDA IPC). */
  public DeviceIpc ipc() {
    return ipc;
  }

  /**
   * Drops the cache, the IPC mappings and the device copiers (not the plane, which its creator
   * owns).
   */
  @Override
  public void close() {
    try {
      cache.close();
    } finally {
      try {
        ipc.close();
      } finally {
        copiers.close();
      }
    }
  }
}
