package io.rtensor.device;

import io.rtensor.device.internal.DeviceOps;

/**
 * An environment variable that a device runtime reads once, when it initialises ({@code
 * CUDA_VISIBLE_DEVICES}, {@code CUDA_DEVICE_ORDER}, {@code ASCEND_RT_VISIBLE_DEVICES}), was to be
 * changed after that runtime had initialised in this process: the change would have no effect on
 * it, so it is refused and the variable keeps its value. Set it before the runtime's first use, or
 * in a new process.
 */
public final class RuntimeAlreadyInitializedException extends DeviceException {
  private static final long serialVersionUID = 1L;

  private final String variable;

  public RuntimeAlreadyInitializedException(
      RuntimeKind runtime, String variable, String operation, String text) {
    super(
        runtime,
        "RTENSOR_RUNTIME_ALREADY_INITIALIZED",
        text,
        DeviceOps.RT_E_ALREADY_INITIALIZED,
        -1,
        operation,
        -1);
    this.variable = variable;
  }

  /** The variable that was to change. */
  public String variable() {
    return variable;
  }
}
