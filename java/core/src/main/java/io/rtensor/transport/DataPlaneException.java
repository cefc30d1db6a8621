package io.rtensor.transport;

/** A data plane operation failed; {@link #location()} names where. */
public class DataPlaneException extends io.rtensor.RTensorException {
  private final String location;

  public DataPlaneException(String location, String message) {
    super(message + " [" + location + "]");
    this.location = location;
  }

  public DataPlaneException(String location, String message, Throwable cause) {
    super(message + " [" + location + "]", cause);
    this.location = location;
  }

  /** The location key (a Flight {@code host:port}, or the Ray object store). */
  public String location() {
    return location;
  }
}
