package io.rtensor.transport;

/**
 * The data plane rejected a request as malformed: a bad ticket, an unknown action, a corrupt or
 * oversized shard stream, a duplicate shard id.
 */
public final class BadShardRequestException extends DataPlaneException {
  public BadShardRequestException(String location, String message, Throwable cause) {
    super(location, message, cause);
  }
}
