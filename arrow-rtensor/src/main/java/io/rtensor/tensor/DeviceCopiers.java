package io.rtensor.tensor;

import io.rtensor.device.ChunkedCopier;
import io.rtensor.device.Device;
import io.rtensor.device.HostMemory;
import java.util.IdentityHashMap;
import java.util.Map;
import java.util.Objects;
import org.apache.arrow.memory.ArrowBuf;

/**
 * The pipelined copiers of one process, one {@link ChunkedCopier} per device, made on first use:
 * device tensors into host memory and host tensors onto a device, each byte crossing the bus once.
 * Host memory that is page-locked ({@code io.rtensor.device.arrow}) takes the chunks' DMAs
 * directly; pageable memory is staged by the copier. Copies on one device run one at a time (the
 * copier's own rule), copies on different devices in parallel. Owns its copiers.
 */
public final class DeviceCopiers implements AutoCloseable {
  private final Map<Device, ChunkedCopier> copiers = new IdentityHashMap<>();
  private boolean closed;

  /** The copier of {@code device}, made with the defaults on first use. */
  public synchronized ChunkedCopier copier(Device device) {
    Objects.requireNonNull(device, "device");
    if (closed) {
      throw new IllegalStateException("device copiers are closed");
    }
    return copiers.computeIfAbsent(device, ChunkedCopier::create);
  }

  /**
   * Copies all of {@code src}'s bytes into {@code target} at {@code offset}: one pipelined
   * device-to-host copy, straight into {@code target} when it is page-locked.
   *
   * @throws IndexOutOfBoundsException if they do not fit there (nothing is copied)
   * @throws io.rtensor.device.DeviceException if the runtime fails the copy
   */
  public void copyToHost(DeviceTensor src, ArrowBuf target, long offset) {
    long bytes = src.byteSize();
    if (offset < 0 || offset > target.capacity() - bytes) {
      throw new IndexOutOfBoundsException(
          bytes + " bytes at offset " + offset + " of a " + target.capacity() + "-byte buffer");
    }
    if (bytes > 0) {
      copier(src.device()).copyToHost(src.buffer(), 0, HostMemory.of(target), offset, bytes);
    }
  }

  /**
   * A tensor on {@code device} holding a copy of {@code host}'s bytes: one pipelined host-to-device
   * copy, fed straight from {@code host}'s memory when it is page-locked. The caller owns it.
   *
   * @throws io.rtensor.device.DeviceException if the runtime fails the allocation or the copy
   *     (nothing is left allocated)
   */
  public DeviceTensor toDevice(Tensor host, Device device) {
    DeviceTensor out = DeviceTensor.allocate(device, host.dtype(), host.shape());
    try {
      if (out.byteSize() > 0) {
        copier(device).copyToDevice(HostMemory.of(host.data()), 0, out.buffer(), 0, out.byteSize());
      }
      return out;
    } catch (RuntimeException e) {
      out.close();
      throw e;
    }
  }

  /** Closes every copier (their streams and staging memory). */
  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    RuntimeException first = null;
    for (ChunkedCopier c : copiers.values()) {
      try {
        c.close();
      } catch (RuntimeException e) {
        if (first == null) {
          first = e;
        } else {
          first.addSuppressed(e);
        }
      }
    }
    copiers.clear();
    if (first != null) {
      throw first;
    }
  }
}
