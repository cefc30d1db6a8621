package io.rtensor.transport;

/** The data plane refused a call without the session's secret token (or with a wrong one). */
public final class DataPlaneAuthException extends DataPlaneException {
  public DataPlaneAuthException(String location, String message, Throwable cause) {
    super(location, message, cause);
  }
}
