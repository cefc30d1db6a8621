package io.rtensor.device;

/**
 * The completion of an asynchronous copy. {@link #await()} waits for it; {@link #close()} waits too
 * (so memory is never released under a copy in flight) and frees the handle's event.
 *
 * <p>On runtimes with events (CUDA, CPU) completion is the copy's own event; on Ascend it is the
 * stream, so awaiting also waits for work queued on the stream after the copy.
 */
public final class CopyHandle implements AutoCloseable {
  private final DeviceStream stream;
  private final DeviceEvent event;
  private final long bytes;
  private boolean done;
  private boolean closed;

  CopyHandle(DeviceStream stream, DeviceEvent event, long bytes) {
    this.stream = stream;
    this.event = event;
    this.bytes = bytes;
  }

  /** Bytes the copy moves. */
  public long bytes() {
    return bytes;
  }

  /** Waits until the copy is done. */
  public synchronized void await() {
    if (done) {
      return;
    }
    if (closed) {
      throw new IllegalStateException("copy handle is closed");
    }
    if (event != null) {
      event.synchronize();
    } else {
      stream.synchronize();
    }
    done = true;
  }

  /**
   * Whether the copy is done, without waiting. On Ascend (no events bound) this is true only once
   * {@link #await()} has returned.
   */
  public synchronized boolean isDone() {
    if (!done && !closed && event != null && event.isDone()) {
      done = true;
    }
    return done;
  }

  /** Waits for the copy and releases the handle; idempotent. */
  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    try {
      await();
    } finally {
      closed = true;
      if (event != null) {
        event.close();
      }
    }
  }
}
