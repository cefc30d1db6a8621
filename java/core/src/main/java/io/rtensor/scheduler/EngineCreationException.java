package io.rtensor.scheduler;

import io.rtensor.host.CallResult;

/** An engine could not be created on a worker (unknown class, not an Engine, constructor threw). */
public class EngineCreationException extends SchedulerException {
  private static final long serialVersionUID = 1L;

  private final String engineClass;
  private final String remoteStack;

  public EngineCreationException(
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

  /** The worker's report that the class is missing, is not an engine, or its constructor threw. */
  public static EngineCreationException fromResult(
      String workerId, String engineClass, CallResult result) {
    return new EngineCreationException(
        workerId,
        engineClass,
        (result.errorClass() == null ? "" : result.errorClass() + ": ") + result.errorMessage(),
        result.errorStack(),
        null);
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
