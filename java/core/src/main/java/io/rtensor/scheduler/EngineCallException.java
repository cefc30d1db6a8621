package io.rtensor.scheduler;

import io.rtensor.host.CallResult;
import java.time.Duration;

/**
 * An engine call failed: the engine threw (never retried), the method does not exist or is
 * ambiguous, or the call kept timing out through all its retries.
 */
public class EngineCallException extends SchedulerException {
  private static final long serialVersionUID = 1L;

  private final String engineName;
  private final String remoteClass;
  private final String remoteMessage;
  private final String remoteStack;

  public EngineCallException(
      String workerId,
      String engineName,
      String method,
      int attempt,
      String remoteClass,
      String remoteMessage,
      String remoteStack,
      Throwable cause) {
    super(
        "engine call "
            + (engineName == null ? "" : engineName + ".")
            + method
            + " on worker '"
            + workerId
            + "' failed (attempt "
            + attempt
            + "): "
            + (remoteClass == null ? "" : remoteClass + ": ")
            + remoteMessage,
        workerId,
        roleOf(workerId),
        method,
        attempt,
        cause);
    this.engineName = engineName;
    this.remoteClass = remoteClass;
    this.remoteMessage = remoteMessage;
    this.remoteStack = remoteStack;
  }

  /**
   * The engine's own failure (or a missing method) reported by the worker: never retried. A call
   * whose tensor arguments could not be placed on the device it asked for is a {@link
   * DeviceArgumentException}.
   */
  public static EngineCallException fromResult(
      String workerId, String engineName, String method, int attempt, CallResult result) {
    if (result.status() == CallResult.Status.DEVICE_ARGUMENT) {
      return new DeviceArgumentException(
          workerId, engineName, method, attempt, result.errorMessage());
    }
    return new EngineCallException(
        workerId,
        engineName,
        method,
        attempt,
        result.errorClass(),
        result.errorMessage(),
        result.errorStack(),
        null);
  }

  /**
   * Every attempt timed out ({@code timedOut}) or failed in transport; {@code last} is the last.
   */
  public static EngineCallException exhausted(
      String workerId,
      String engineName,
      String method,
      int attempts,
      boolean timedOut,
      Duration timeout,
      Throwable last) {
    return new EngineCallException(
        workerId,
        engineName,
        method,
        attempts,
        null,
        (timedOut ? "timed out after " + timeout.toMillis() + " ms" : "transport failed: " + last)
            + " on each of "
            + attempts
            + " attempts",
        null,
        last);
  }

  /** The engine's name on the worker. */
  public String engineName() {
    return engineName;
  }

  /** The class of the exception the engine threw, or null when the failure was not the engine's. */
  public String remoteClass() {
    return remoteClass;
  }

  /** The engine exception's message (or what went wrong). */
  public String remoteMessage() {
    return remoteMessage;
  }

  /** The worker-side stack trace text, or null. */
  public String remoteStack() {
    return remoteStack;
  }
}
