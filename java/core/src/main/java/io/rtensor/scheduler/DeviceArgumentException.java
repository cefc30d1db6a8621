package io.rtensor.scheduler;

/**
 * A call that asked for its tensor arguments on a worker's device ({@link CallOptions#withDevice})
 * was refused before its engine ran: the method declares a parameter of the host {@code Tensor}
 * type (declare it {@code DeviceTensor} or {@code Object}, or call without a device), an argument
 * is a batch (which has no device form: pass its tensors), or the worker holds no device of that
 * ordinal. The message names which. Never retried: the same call fails the same way.
 */
public class DeviceArgumentException extends EngineCallException {
  private static final long serialVersionUID = 1L;

  public DeviceArgumentException(
      String workerId, String engineName, String method, int attempt, String reason) {
    super(workerId, engineName, method, attempt, null, reason, null, null);
  }
}
