package io.rtensor.device;

import io.rtensor.device.internal.DeviceOps;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A range of device memory: pointer, size, device. An owning buffer frees its memory on {@link
 * #close()}; a wrapping one ({@link Device#wrap}) only stops being usable.
 */
public final class DeviceBuffer implements AutoCloseable {
  private final Device device;
  private final long address;
  private final long size;
  private final boolean owned;
  private final AtomicBoolean closed = new AtomicBoolean();

  DeviceBuffer(Device device, long address, long size, boolean owned) {
    this.device = device;
    this.address = address;
    this.size = size;
    this.owned = owned;
  }

  /** The device the memory is on. */
  public Device device() {
    return device;
  }

  /** The device pointer. */
  public long address() {
    return address;
  }

  /** The size in bytes. */
  public long size() {
    return size;
  }

  /** Whether closing this buffer frees the memory. */
  public boolean owned() {
    return owned;
  }

  /** Whether {@link #close()} has been called. */
  public boolean isClosed() {
    return closed.get();
  }

  void checkOpen() {
    if (closed.get()) {
      throw new IllegalStateException("device buffer " + this + " is closed");
    }
  }

  /** Frees the memory if owned; idempotent. */
  @Override
  public void close() {
    if (closed.compareAndSet(false, true) && owned) {
      device
          .nativeRuntime()
          .check(
              DeviceOps.mem_free(device.backend(), device.index(), address),
              "memFree",
              device.index(),
              size);
    }
  }

  @Override
  public String toString() {
    return "DeviceBuffer[" + device + ", 0x" + Long.toHexString(address) + ", " + size + " B]";
  }
}
