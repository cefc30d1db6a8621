package io.rtensor.transport;

import java.time.Duration;
import java.util.List;

/**
 * A fetch passed its overall deadline ({@link DataPlaneDeadlines#overallFor}): the peer at {@link
 * #location()} did not deliver {@link #shardIds()} in time. The request was cancelled; nothing of
 * it is returned, and nothing stored was touched. The peer may be alive (slow, stopped, wedged):
 * asking again may succeed once it answers.
 */
public class FetchTimeoutException extends DataPlaneTimeoutException {
  private final List<String> shardIds;

  public FetchTimeoutException(
      String location, List<String> shardIds, Duration waited, String message) {
    super(location, waited, message + " (" + describe(shardIds) + ")");
    this.shardIds = List.copyOf(shardIds);
  }

  /** The shards the failed request asked for. */
  public List<String> shardIds() {
    return shardIds;
  }

  private static String describe(List<String> ids) {
    int shown = Math.min(ids.size(), 8);
    return ids.size()
        + " shard(s): "
        + String.join(", ", ids.subList(0, shown))
        + (ids.size() > shown ? ", ..." : "");
  }
}
