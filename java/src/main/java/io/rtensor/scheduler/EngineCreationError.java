package io.rtensor.scheduler;

/** An engine could not be created on a worker (unknown class, not an Engine, constructor threw). */
public class EngineCreationError extends SchedulerException {
  private static final long serialVersionUID = 1L;

  private final String engineClass;
  private final String remoteStack;

  public EngineCreationError(
      String workerId, String engineClass, String message, String remoteStack, Throwable cause) {
    super(
        "cannot create engine " + engineClass + " on worker '" + workerId + "': " + message,
        workerId,
        roleOf(workerId),
        "createEngine",
        1,
        cause);
    this.engineClass = engineClass;
    this.remoteStack = remoteStack;
  }

  /** The engine class name asked for. */
  public String engineClass() {
    return engineClass;
  }

  /** The worker-side stack trace text, or null. */
  public String remoteStack() {
    return remoteStack;
  }
}
