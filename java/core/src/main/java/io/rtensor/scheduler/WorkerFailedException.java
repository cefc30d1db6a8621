package io.rtensor.scheduler;

/** A worker process died or its actor is gone. */
public class WorkerFailedException extends SchedulerException {
  private static final long serialVersionUID = 1L;

  public WorkerFailedException(
      String workerId, String method, int attempt, String detail, Throwable cause) {
    super(
        "worker '"
            + workerId
            + "' failed"
            + (method == null ? "" : " during " + method + " (attempt " + attempt + ")")
            + ": "
            + detail,
        workerId,
        roleOf(workerId),
        method,
        attempt,
        cause);
  }
}
