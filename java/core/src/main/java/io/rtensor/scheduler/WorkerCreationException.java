package io.rtensor.scheduler;

/** A job's workers could not be created: invalid job, missing resources, or a start failure. */
public class WorkerCreationException extends SchedulerException {
  private static final long serialVersionUID = 1L;

  public WorkerCreationException(String role, String message) {
    this(role, message, null);
  }

  public WorkerCreationException(String role, String message, Throwable cause) {
    super("cannot create workers of role '" + role + "': " + message, null, role, null, 0, cause);
  }
}
