package io.rtensor.device;

import io.rtensor.device.internal.DeviceOps;
import java.util.concurrent.atomic.AtomicBoolean;

/** Host memory page-locked by {@link Device#register}; unregistered on {@link #close()}. */
public final class HostRegistration implements AutoCloseable {
  private final Device device;
  private final HostMemory memory;
  private final AtomicBoolean closed = new AtomicBoolean();

  HostRegistration(Device device, HostMemory memory) {
    this.device = device;
    this.memory = memory;
  }

  /** The registered range, marked page-locked. */
  public HostMemory memory() {
    return memory;
  }

  @Override
  public void close() {
    if (closed.compareAndSet(false, true)) {
      device
          .nativeRuntime()
          .check(
              DeviceOps.host_unregister(device.backend(), device.index(), memory.address()),
              "memHostUnregister",
              device.index(),
              memory.size());
    }
  }
}
