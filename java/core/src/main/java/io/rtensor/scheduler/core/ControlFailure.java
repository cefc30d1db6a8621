package io.rtensor.scheduler.core;

/**
 * Why a control message to a worker failed, as far as its transport can tell. The kind decides what
 * the scheduler core may do next: only {@link Kind#NOT_DELIVERED} proves the worker never saw the
 * request, so only it is retried without the caller's leave.
 */
public final class ControlFailure extends Exception {
  private static final long serialVersionUID = 1L;

  /** What the failure proves. */
  public enum Kind {
    /** The worker is gone (its process exited, its actor died). */
    DEAD,
    /** The request never reached the worker (connection refused before anything was sent). */
    NOT_DELIVERED,
    /** No answer within the timeout: the request may have run, and may still be running. */
    TIMED_OUT,
    /** The worker refused the caller's credentials. */
    REFUSED,
    /** The request cannot be encoded (an argument is not serializable); nothing was sent. */
    UNSENDABLE,
    /** The transport broke after the request may have reached the worker. */
    BROKEN
  }

  private final Kind kind;

  public ControlFailure(Kind kind, String message, Throwable cause) {
    super(message, cause);
    this.kind = kind;
  }

  /** What the failure proves. */
  public Kind kind() {
    return kind;
  }
}
