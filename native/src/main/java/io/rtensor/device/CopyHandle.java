package io.rtensor.device;

/**
 * The completion of an asynchronous copy. {@link #await()} waits for it; {@link #close()} waits too
 * (so memory is never released under a copy in flight) and frees the handle's event.
 *
 * <p>On runtimes with events (CUDA, CPU) completion is the copy's own event; on Ascend it is the
 * stream, so awaiting also waits for work queued on the stream after the copy. A stream runs its
 * work in order, so on every runtime a copy is done once a copy queued after it on the same stream
 * is awaited, or the stream is {@linkplain DeviceStream#synchronize() synchronized}.
 */
public final class CopyHandle implements AutoCloseable {
  private final DeviceStream stream;
  private final DeviceEvent event;
  private final long bytes;
  private final long ticket;
  private boolean done;
  private boolean closed;

  /**
   * @param ticket the stream ticket taken after the copy was queued and before {@code event} was
   *     recorded
   */
  CopyHandle(DeviceStream stream, DeviceEvent event, long bytes, long ticket) {
    this.stream = stream;
    this.event = event;
    this.bytes = bytes;
    this.ticket = ticket;
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
    if (stream.isCompleted(ticket)) {
      done = true;
      return;
    }
    if (event != null) {
      event.synchronize();
      // The event was recorded after every copy with a ticket up to this one had been queued.
      stream.completedThrough(ticket);
    } else {
      stream.synchronize();
    }
    done = true;
  }

  /**
   * Whether the copy is done, without waiting: its event has completed (CUDA, CPU), or on any
   * runtime it, a copy queued after it on its stream, or the stream itself has been waited for. On
   * Ascend (no events bound) only the waits tell.
   */
  public synchronized boolean isDone() {
    if (done) {
      return true;
    }
    if (stream.isCompleted(ticket)) {
      done = true;
    } else if (!closed && event != null && event.isDone()) {
      stream.completedThrough(ticket);
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
