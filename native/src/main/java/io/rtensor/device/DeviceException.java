package io.rtensor.device;

/**
 * A device runtime reported an error. Carries what a user needs to act on it: the runtime, the
 * runtime's error name, text and code, the device, the operation and the number of bytes involved.
 */
public class DeviceException extends io.rtensor.RTensorException {
  private static final long serialVersionUID = 1L;

  private final RuntimeKind runtime;
  private final String errorName;
  private final String errorText;
  private final int code;
  private final int device;
  private final String operation;
  private final long bytes;

  public DeviceException(
      RuntimeKind runtime,
      String errorName,
      String errorText,
      int code,
      int device,
      String operation,
      long bytes) {
    super(format(runtime, errorName, errorText, code, device, operation, bytes));
    this.runtime = runtime;
    this.errorName = errorName;
    this.errorText = errorText;
    this.code = code;
    this.device = device;
    this.operation = operation;
    this.bytes = bytes;
  }

  private static String format(
      RuntimeKind runtime,
      String name,
      String text,
      int code,
      int device,
      String operation,
      long bytes) {
    StringBuilder b = new StringBuilder();
    b.append(runtime).append(' ').append(operation).append(" failed");
    if (device >= 0) {
      b.append(" on device ").append(device);
    }
    if (bytes >= 0) {
      b.append(" (").append(bytes).append(" bytes)");
    }
    b.append(": ").append(name).append(" (").append(code).append(')');
    if (text != null && !text.isEmpty()) {
      b.append(": ").append(text);
    }
    return b.toString();
  }

  /** The runtime that failed. */
  public RuntimeKind runtime() {
    return runtime;
  }

  /** The runtime's name for the error, e.g. {@code CUDA_ERROR_OUT_OF_MEMORY}. */
  public String errorName() {
    return errorName;
  }

  /** The runtime's description of the error. */
  public String errorText() {
    return errorText;
  }

  /** The runtime's error code; negative codes are rtensor's own. */
  public int code() {
    return code;
  }

  /** The device ordinal, or -1 when the operation concerns no single device. */
  public int device() {
    return device;
  }

  /** The operation that failed, e.g. {@code memcpyDtoH}. */
  public String operation() {
    return operation;
  }

  /** The number of bytes the operation concerned, or -1. */
  public long bytes() {
    return bytes;
  }
}
