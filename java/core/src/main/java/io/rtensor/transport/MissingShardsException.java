package io.rtensor.transport;

import java.util.List;
import java.util.Map;

/** Shards a fetch asked for that their locations do not hold (cleared, or never stored). */
public final class MissingShardsException extends DataPlaneException {
  private final Map<String, List<String>> missing;

  public MissingShardsException(Map<String, List<String>> missing) {
    super(
        String.join(",", missing.keySet()),
        missing.values().stream().mapToInt(List::size).sum() + " shard(s) missing: " + missing);
    this.missing = Map.copyOf(missing);
  }

  /** Location key to the ids it lacks. */
  public Map<String, List<String>> missingByLocation() {
    return missing;
  }

  /** Every missing id. */
  public List<String> missingIds() {
    return missing.values().stream().flatMap(List::stream).sorted().toList();
  }
}
