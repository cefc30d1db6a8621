package io.rtensor.device;

import io.rtensor.device.internal.DeviceOps;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A range of device memory: pointer, size, device. An owning buffer frees its memory on {@link
 * #close()}; a wrapping one ({@link Device#wrap}) only stops being usable; one opened from another
 * process's memory ({@link Device#openIpc}) unmaps that memory.
 */
public final class DeviceBuffer implements AutoCloseable {
  private final Device device;
  private final long address;
  private final long size;
  private final boolean owned;
  // The base of the IPC mapping this buffer closes (cuIpcCloseMemHandle), or 0.
  private final long ipcBase;
  private final AtomicBoolean closed = new AtomicBoolean();

  DeviceBuffer(Device device, long address, long size, boolean owned) {
    this(device, address, size, owned, 0);
  }

  private DeviceBuffer(Device device, long address, long size, boolean owned, long ipcBase) {
    this.device = device;
    this.address = address;
    this.size = size;
    this.owned = owned;
    this.ipcBase = ipcBase;
  }

  /** A buffer over an IPC mapping whose base is {@code ipcBase}; closing it unmaps the mapping. */
  static DeviceBuffer ipcMapping(Device device, long ipcBase, long offset, long size) {
    return new DeviceBuffer(device, ipcBase + offset, size, false, ipcBase);
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

  /**
   * Whether closing this buffer frees the memory. False for a buffer over another process's memory
   * ({@link #ipcMapped()}): closing that one unmaps it from this process, the owner frees it.
   */
  public boolean owned() {
    return owned;
  }

  /** Whether this buffer maps another process's memory ({@link Device#openIpc}). */
  public boolean ipcMapped() {
    return ipcBase != 0;
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

  /** Frees the memory if owned, unmaps it if it is an IPC mapping; idempotent. */
  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    if (owned) {
      device
          .nativeRuntime()
          .check(
              DeviceOps.mem_free(device.backend(), device.index(), address),
              "memFree",
              device.index(),
              size);
    } else if (ipcBase != 0) {
      device
          .nativeRuntime()
          .check(
              DeviceOps.ipc_close(device.backend(), device.index(), ipcBase),
              "ipcCloseMemHandle",
              device.index(),
              size);
    }
  }

  @Override
  public String toString() {
    return "DeviceBuffer[" + device + ", 0x" + Long.toHexString(address) + ", " + size + " B]";
  }
}
