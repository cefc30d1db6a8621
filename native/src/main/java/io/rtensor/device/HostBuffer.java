package io.rtensor.device;

import java.util.concurrent.atomic.AtomicBoolean;

/** Page-locked host memory allocated through a device runtime; freed on {@link #close()}. */
public final class HostBuffer implements AutoCloseable {
  private final Device device;
  private final long address;
  private final long size;
  private final AtomicBoolean closed = new AtomicBoolean();

  HostBuffer(Device device, long address, long size) {
    this.device = device;
    this.address = address;
    this.size = size;
  }

  /** The device whose runtime locked the memory. */
  public Device device() {
    return device;
  }

  /** The host address. */
  public long address() {
    return address;
  }

  /** The size in bytes. */
  public long size() {
    return size;
  }

  /** Whether the pages are locked (false on the CPU backend, which has no DMA engine). */
  public boolean pageLocked() {
    return device.kind() != RuntimeKind.CPU;
  }

  /** The memory as a copy endpoint. */
  public HostMemory memory() {
    if (closed.get()) {
      throw new IllegalStateException("host buffer is closed");
    }
    return new HostMemory(address, size, pageLocked());
  }

  /** Frees the memory; idempotent. */
  @Override
  public void close() {
    if (closed.compareAndSet(false, true)) {
      device.freeHost(address, size);
    }
  }
}
