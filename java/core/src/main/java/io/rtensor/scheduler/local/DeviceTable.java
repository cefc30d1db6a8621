package io.rtensor.scheduler.local;

import io.rtensor.scheduler.DeviceType;
import io.rtensor.scheduler.WorkerCreationException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/** This machine's devices of each type and which are taken, for exclusive assignment. */
final class DeviceTable {
  private final Map<DeviceType, boolean[]> used = new EnumMap<>(DeviceType.class);

  DeviceTable(Map<DeviceType, Integer> counts) {
    counts.forEach((type, count) -> used.put(type, new boolean[count]));
  }

  synchronized int count(DeviceType type) {
    boolean[] table = used.get(type);
    return table == null ? 0 : table.length;
  }

  /**
   * Takes {@code perRank.get(i)} free devices for each rank, lowest ids first.
   *
   * @throws WorkerCreationException naming how many are free when there are too few
   */
  synchronized List<List<Integer>> reserve(String role, DeviceType type, List<Integer> perRank) {
    int needed = perRank.stream().mapToInt(Integer::intValue).sum();
    List<List<Integer>> assigned = new ArrayList<>();
    if (needed == 0) {
      perRank.forEach(n -> assigned.add(List.of()));
      return assigned;
    }
    boolean[] table = used.getOrDefault(type, new boolean[0]);
    Deque<Integer> free = new ArrayDeque<>();
    for (int d = 0; d < table.length; d++) {
      if (!table[d]) {
        free.add(d);
      }
    }
    if (free.size() < needed) {
      throw new WorkerCreationException(
          role,
          "needs "
              + needed
              + " "
              + type
              + "(s) but "
              + free.size()
              + " of "
              + table.length
              + " on this machine are free");
    }
    for (int n : perRank) {
      List<Integer> ids = new ArrayList<>();
      for (int k = 0; k < n; k++) {
        int d = free.removeFirst();
        table[d] = true;
        ids.add(d);
      }
      assigned.add(List.copyOf(ids));
    }
    return assigned;
  }

  synchronized void release(DeviceType type, List<List<Integer>> assigned) {
    boolean[] table = used.get(type);
    if (table == null) {
      return;
    }
    for (List<Integer> ids : assigned) {
      for (int d : ids) {
        table[d] = false;
      }
    }
  }
}
