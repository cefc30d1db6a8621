package io.rtensor.scheduler;

/** A job's workers could not be created: invalid job, missing resources, or a start failure. */
public class WorkerCreationError extends SchedulerException {
  private static final long serialVersionUID = 1L;

  public WorkerCreationError(String role, String message) {
    this(role, message, null);
  }

  public WorkerCreationError(String role, String message, Throwable cause) {
    super("cannot create workers of role '" + role + "': " + message, null, role, null, 0, cause);
  }
}
