package io.rtensor.device;

import io.rtensor.device.internal.DeviceOps;
import java.util.concurrent.atomic.AtomicBoolean;

/** A device event: marks a point in a stream; destroyed on {@link #close()}. */
public final class DeviceEvent implements AutoCloseable {
  private final Device device;
  private final long handle;
  private final AtomicBoolean closed = new AtomicBoolean();

  DeviceEvent(Device device, long handle) {
    this.device = device;
    this.handle = handle;
  }

  private void checkOpen() {
    if (closed.get()) {
      throw new IllegalStateException("event is closed");
    }
  }

  /** Records the event at the current end of a stream. */
  public void record(DeviceStream stream) {
    checkOpen();
    device.checkStream(stream);
    device
        .nativeRuntime()
        .check(
            DeviceOps.event_record(device.backend(), device.index(), handle, stream.handle()),
            "eventRecord",
            device.index(),
            -1);
  }

  /** Waits until the work before the event's record point is done. */
  public void synchronize() {
    checkOpen();
    device
        .nativeRuntime()
        .check(
            DeviceOps.event_sync(device.backend(), device.index(), handle),
            "eventSynchronize",
            device.index(),
            -1);
  }

  /** Whether the work before the record point is done, without waiting. */
  public boolean isDone() {
    checkOpen();
    int r = DeviceOps.event_query(device.backend(), device.index(), handle);
    if (r == DeviceOps.RT_E_NOT_READY) {
      return false;
    }
    device.nativeRuntime().check(r, "eventQuery", device.index(), -1);
    return true;
  }

  /** Milliseconds between {@code start}'s record point and this event's; both must be done. */
  public float elapsedMillisSince(DeviceEvent start) {
    checkOpen();
    start.checkOpen();
    if (start.device != device) {
      throw new IllegalArgumentException("events of different devices");
    }
    float[] millis = new float[1];
    device
        .nativeRuntime()
        .check(
            DeviceOps.event_elapsed(device.backend(), device.index(), start.handle, handle, millis),
            "eventElapsedTime",
            device.index(),
            -1);
    return millis[0];
  }

  /** Destroys the event; idempotent. */
  @Override
  public void close() {
    if (closed.compareAndSet(false, true)) {
      device
          .nativeRuntime()
          .check(
              DeviceOps.event_destroy(device.backend(), device.index(), handle),
              "eventDestroy",
              device.index(),
              -1);
    }
  }
}
