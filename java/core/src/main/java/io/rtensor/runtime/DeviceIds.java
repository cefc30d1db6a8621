package io.rtensor.runtime;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;

/**
 * Device id lists as workers are handed them ({@code "2,3"}, {@code ""} for none): the form of
 * {@code CUDA_VISIBLE_DEVICES}, the local worker's {@code --devices} and a Ray fork's inherited
 * devices.
 */
public final class DeviceIds {
  private DeviceIds() {}

  /** {@code [2, 3]} to {@code "2,3"}. */
  public static String format(List<Integer> ids) {
    return ids.stream().map(String::valueOf).collect(Collectors.joining(","));
  }

  /**
   * {@code "2,3"} to {@code [2, 3]}; blank entries are skipped, so {@code ""} is none.
   *
   * @throws IllegalArgumentException for an entry that is not an id {@code >= 0}
   */
  public static List<Integer> parse(String text) {
    List<Integer> ids = new ArrayList<>();
    for (String part : text.split(",")) {
      if (!part.isBlank()) {
        int id = Integer.parseInt(part.strip());
        if (id < 0) {
          throw new IllegalArgumentException("device ids are >= 0, got " + id);
        }
        ids.add(id);
      }
    }
    return List.copyOf(ids);
  }
}
