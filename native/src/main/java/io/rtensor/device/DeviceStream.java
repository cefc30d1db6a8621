package io.rtensor.device;

import io.rtensor.device.internal.DeviceOps;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/** A device stream: work queued on it runs in order. Destroyed on {@link #close()}. */
public final class DeviceStream implements AutoCloseable {
  private final Device device;
  private final long handle;
  private final AtomicBoolean closed = new AtomicBoolean();

  /**
   * Tickets of the copies started with a {@link CopyHandle}: one is taken after its copy is queued,
   * so every ticket up to a value read before a synchronize belongs to work that synchronize waited
   * for. {@code completed} is the highest ticket known to be done.
   */
  private final AtomicLong issued = new AtomicLong();

  private final AtomicLong completed = new AtomicLong();

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

  /** A ticket for work that has just been queued on this stream. */
  long issueTicket() {
    return issued.incrementAndGet();
  }

  /**
   * Records that the work of every ticket up to {@code ticket} is done (the stream runs in order).
   */
  void completedThrough(long ticket) {
    completed.accumulateAndGet(ticket, Math::max);
  }

  /** Whether the work of {@code ticket} is known to be done. */
  boolean isCompleted(long ticket) {
    return completed.get() >= ticket;
  }

  /**
   * Waits until all work queued on the stream is done (the runtime's stream synchronize: {@code
   * cuStreamSynchronize}, {@code aclrtSynchronizeStream}). Every {@link CopyHandle} of a copy
   * queued before the call is done afterwards.
   */
  public void synchronize() {
    checkOpen();
    long upTo = issued.get();
    device
        .nativeRuntime()
        .check(
            DeviceOps.stream_sync(device.backend(), device.index(), handle),
            "streamSynchronize",
            device.index(),
            -1);
    completedThrough(upTo);
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
