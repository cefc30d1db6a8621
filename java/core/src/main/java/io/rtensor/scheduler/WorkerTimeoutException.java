package io.rtensor.scheduler;

import java.time.Duration;

/** A worker did not answer, or did not come up, within its deadline. */
public class WorkerTimeoutException extends SchedulerException {
  private static final long serialVersionUID = 1L;

  private final Duration timeout;

  public WorkerTimeoutException(
      String workerIdOrRole, String method, int attempt, Duration timeout, String detail) {
    super(
        (workerIdOrRole.contains("/") ? "worker '" : "role '")
            + workerIdOrRole
            + "' timed out after "
            + timeout.toMillis()
            + " ms"
            + (method == null ? "" : " in " + method + " (attempt " + attempt + ")")
            + (detail == null ? "" : ": " + detail),
        workerIdOrRole.contains("/") ? workerIdOrRole : null,
        roleOf(workerIdOrRole),
        method,
        attempt,
        null);
    this.timeout = timeout;
  }

  /** The deadline that passed. */
  public Duration timeout() {
    return timeout;
  }
}
