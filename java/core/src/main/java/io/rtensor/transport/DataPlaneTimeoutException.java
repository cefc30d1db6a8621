package io.rtensor.transport;

import java.time.Duration;

/**
 * A data plane call passed one of its {@link DataPlaneDeadlines}: the peer at {@link #location()}
 * did not answer in time. The call was cancelled; the peer may still be alive. Fetches throw the
 * subclasses {@link FetchTimeoutException} and {@link FetchStalledException}, which name the
 * shards.
 */
public class DataPlaneTimeoutException extends DataPlaneException {
  private final Duration waited;

  public DataPlaneTimeoutException(String location, Duration waited, String message) {
    super(location, message);
    this.waited = waited;
  }

  /** The deadline that passed. */
  public Duration waited() {
    return waited;
  }
}
