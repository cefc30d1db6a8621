package io.rtensor.transport;

/**
 * TLS between this process and a Flight peer failed, so nothing was sent: the peer presented no
 * certificate of this session (another session's, or none because it serves plaintext), or it
 * serves TLS and this client connected in plaintext. Not retried: the two ends disagree on the
 * session's TLS setting or identity ({@link FlightTlsMode}).
 */
public final class DataPlaneTlsException extends DataPlaneException {
  public DataPlaneTlsException(String location, String message, Throwable cause) {
    super(location, message, cause);
  }
}
