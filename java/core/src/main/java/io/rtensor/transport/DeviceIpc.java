package io.rtensor.transport;

import io.rtensor.device.Device;
import io.rtensor.device.DeviceBuffer;
import io.rtensor.device.DeviceIpcHandle;
import io.rtensor.handle.DeviceNode;
import io.rtensor.handle.RTensor;
import io.rtensor.tensor.DeviceCopiers;
import io.rtensor.tensor.DeviceTensor;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Device tensors handed between processes of one node by CUDA IPC, without the host: the producer
 * exports a handle to the tensor's device memory ({@link #export}, {@code cuIpcGetMemHandle}) and
 * keeps the memory until the shard is cleared; a consumer on the same node maps it ({@code
 * cuIpcOpenMemHandle}) and copies it device to device onto its own device ({@link #copyOnDevice}).
 *
 * <p>A consumer keeps one mapping per shard, opened at its first use and closed ({@code
 * cuIpcCloseMemHandle}) when the shard is cleared here ({@link #evict}) or this is closed. Whatever
 * the driver refuses (memory it cannot export, a handle it cannot open) is not an error: the shard
 * is then fetched through its store as any other, whose copy to the host is made at that fetch.
 * Thread-safe.
 */
public final class DeviceIpc implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(DeviceIpc.class);

  private final Map<String, DeviceBuffer> mappings = new HashMap<>();
  private boolean closed;

  /**
   * The bytes of a CUDA IPC handle to {@code tensor}'s memory, or null where there is none: the
   * tensor is not on a CUDA device, holds no bytes, or the driver cannot export its memory (memory
   * from another allocator than {@code cuMemAlloc}, a platform without IPC). The memory must stay
   * allocated until every process that opened the handle closed it: the caller keeps a reference.
   */
  public static byte[] export(DeviceTensor tensor) {
    Device device = tensor.device();
    if (!device.supportsIpc() || tensor.byteSize() == 0) {
      return null;
    }
    try {
      return device.exportIpc(tensor.buffer(), 0, tensor.byteSize()).toBytes();
    } catch (RuntimeException e) {
      log.debug("{} cannot be exported by CUDA IPC; it will be fetched: {}", tensor, e.toString());
      return null;
    }
  }

  /**
   * Whether {@code handle} names device memory this process may map onto {@code device}: a CUDA
   * device, on the node that exported it, in another process than the exporter's.
   */
  public static boolean canOpen(RTensor handle, Device device) {
    // A handle naming no device memory has no node: this is all most handles cost.
    if (!DeviceNode.id().equals(handle.deviceNode()) || device == null || !device.supportsIpc()) {
      return false;
    }
    try {
      return DeviceIpcHandle.fromBytes(handle.deviceIpc()).exporterPid()
          != ProcessHandle.current().pid();
    } catch (IllegalArgumentException e) {
      return false;
    }
  }

  /**
   * A tensor on {@code device} holding a copy of the tensor {@code handle} names, copied device to
   * device from the producer's memory mapped into this process; owned by the caller. Null when it
   * cannot be ({@link #canOpen} is false, or the driver refused to map it): fetch the shard then.
   *
   * @throws io.rtensor.device.DeviceException if the mapping was made but the copy failed
   */
  public DeviceTensor copyOnDevice(RTensor handle, Device device, DeviceCopiers copiers) {
    if (!canOpen(handle, device)) {
      return null;
    }
    // The copy holds the lock, so an eviction cannot unmap the memory under it.
    synchronized (this) {
      DeviceBuffer mapping = mapping(handle, device);
      if (mapping == null) {
        return null;
      }
      return copiers.copyOnDevice(mapping, handle.dtype(), handle.shape(), device);
    }
  }

  private DeviceBuffer mapping(RTensor handle, Device device) {
    if (closed) {
      throw new IllegalStateException("device IPC mappings are closed");
    }
    DeviceBuffer open = mappings.get(handle.shardId());
    if (open != null && open.device().equals(device)) {
      return open;
    }
    try {
      DeviceBuffer mapped = device.openIpc(DeviceIpcHandle.fromBytes(handle.deviceIpc()));
      if (mapped.size() < handle.byteSize()) {
        mapped.close();
        throw new IllegalArgumentException(
            "the IPC handle maps " + mapped.size() + " bytes, not " + handle.byteSize());
      }
      mappings.put(handle.shardId(), mapped);
      if (open != null) {
        open.close(); // mapped on another of this process's devices before
      }
      return mapped;
    } catch (RuntimeException e) {
      log.debug("shard {}: CUDA IPC open refused, fetching it: {}", handle.shardId(), e.toString());
      return null;
    }
  }

  /** The number of mappings open (tests: nothing is left after a clear). */
  public synchronized int openMappings() {
    return mappings.size();
  }

  /**
   * Closes the mappings of {@code shardIds} (cleared shards); returns how many were open.
   *
   * @throws io.rtensor.device.DeviceException the first failure to close one, after all were tried
   */
  public int evict(Collection<String> shardIds) {
    List<DeviceBuffer> gone = new ArrayList<>();
    synchronized (this) {
      for (String id : shardIds) {
        DeviceBuffer b = mappings.remove(id);
        if (b != null) {
          gone.add(b);
        }
      }
    }
    closeAll(gone);
    return gone.size();
  }

  /** Closes every mapping. */
  @Override
  public void close() {
    List<DeviceBuffer> gone;
    synchronized (this) {
      closed = true;
      gone = new ArrayList<>(mappings.values());
      mappings.clear();
    }
    closeAll(gone);
  }

  private static void closeAll(List<DeviceBuffer> buffers) {
    RuntimeException first = null;
    for (DeviceBuffer b : buffers) {
      try {
        b.close();
      } catch (RuntimeException e) {
        if (first == null) {
          first = e;
        } else {
          first.addSuppressed(e);
        }
      }
    }
    if (first != null) {
      throw first;
    }
  }
}
