package io.rtensor.device;

import io.rtensor.device.internal.DeviceOps;
import java.util.concurrent.atomic.AtomicBoolean;

/** A device stream: work queued on it runs in order. Destroyed on {@link #close()}. */
public final class DeviceStream implements AutoCloseable {
  private final Device device;
  private final long handle;
  private final AtomicBoolean closed = new AtomicBoolean();

  DeviceStream(Device device, long handle) {
    this.device = device;
    this.handle = handle;
  }

  /** The device the stream belongs to. */
  public Device device() {
    return device;
  }

  long handle() {
    return handle;
  }

  void checkOpen() {
    if (closed.get()) {
      throw new IllegalStateException("stream is closed");
    }
  }

  /** Waits until all work queued on the stream is done. */
  public void synchronize() {
    checkOpen();
    device
        .nativeRuntime()
        .check(
            DeviceOps.stream_sync(device.backend(), device.index(), handle),
            "streamSynchronize",
            device.index(),
            -1);
  }

  /** Waits for the stream's work, then destroys it; idempotent. */
  @Override
  public void close() {
    if (closed.compareAndSet(false, true)) {
      NativeRuntime runtime = device.nativeRuntime();
      int sync = DeviceOps.stream_sync(device.backend(), device.index(), handle);
      DeviceException failure =
          sync == 0 ? null : runtime.error(sync, "streamSynchronize", device.index(), -1);
      int destroy = DeviceOps.stream_destroy(device.backend(), device.index(), handle);
      if (destroy != 0 && failure == null) {
        failure = runtime.error(destroy, "streamDestroy", device.index(), -1);
      }
      if (failure != null) {
        throw failure;
      }
    }
  }
}
