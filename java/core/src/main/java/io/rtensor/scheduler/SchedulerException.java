package io.rtensor.scheduler;

/**
 * A scheduler operation failed. Carries the worker id or role, the method and the attempt where
 * they apply (null / 0 where they do not).
 */
public class SchedulerException extends io.rtensor.RTensorException {
  private static final long serialVersionUID = 1L;

  private final String workerId;
  private final String role;
  private final String method;
  private final int attempt;

  protected SchedulerException(
      String message, String workerId, String role, String method, int attempt, Throwable cause) {
    super(message, cause);
    this.workerId = workerId;
    this.role = role;
    this.method = method;
    this.attempt = attempt;
  }

  /** The worker, or null when the error concerns a whole role. */
  public String workerId() {
    return workerId;
  }

  /** The role. */
  public String role() {
    return role;
  }

  /** The engine method or scheduler operation, or null. */
  public String method() {
    return method;
  }

  /** The 1-based attempt that failed, or 0 when not a call. */
  public int attempt() {
    return attempt;
  }

  static String roleOf(String workerId) {
    return workerId == null ? null : Worker.roleOf(workerId);
  }
}
