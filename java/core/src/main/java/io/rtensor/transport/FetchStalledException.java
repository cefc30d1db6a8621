package io.rtensor.transport;

import java.time.Duration;
import java.util.List;

/**
 * A fetch made no progress for its stall deadline ({@link DataPlaneDeadlines#stall()}): the peer at
 * {@link #location()} sent no byte of {@link #shardIds()} for {@link #waited()}. The usual cause is
 * a peer that is alive but does not answer (stopped, wedged, partitioned). The request was
 * cancelled and nothing of it is returned.
 */
public final class FetchStalledException extends FetchTimeoutException {
  public FetchStalledException(
      String location, List<String> shardIds, Duration waited, String message) {
    super(location, shardIds, waited, message);
  }
}
