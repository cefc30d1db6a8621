package io.rtensor.device;

import java.util.ArrayList;
import java.util.List;

/** Reports which device runtimes load on this machine, their devices, names and memory. */
public final class RuntimeProbe {
  private RuntimeProbe() {}

  /**
   * One device as the probe saw it.
   *
   * @param physicalId which physical device the ordinal is ({@link Device#physicalId()}), or empty
   *     when the runtime cannot tell
   */
  public record DeviceInfo(
      int index, String name, String physicalId, long freeBytes, long totalBytes) {}

  /**
   * One runtime: whether it loaded, from which library, the loader's message and its devices.
   *
   * @param error the failure while listing devices of a loaded runtime, or empty
   */
  public record RuntimeReport(
      RuntimeKind kind,
      boolean available,
      String library,
      String message,
      int driverVersion,
      List<DeviceInfo> devices,
      String error) {}

  /** Probes every runtime kind. Loading is attempted once per process and kept. */
  public static List<RuntimeReport> probe() {
    List<RuntimeReport> reports = new ArrayList<>();
    for (RuntimeKind kind : RuntimeKind.values()) {
      reports.add(probe(kind));
    }
    return List.copyOf(reports);
  }

  /** Probes one runtime kind. */
  public static RuntimeReport probe(RuntimeKind kind) {
    DeviceRuntime runtime;
    try {
      runtime = DeviceRuntimes.get(kind);
    } catch (RuntimeUnavailableException e) {
      return new RuntimeReport(kind, false, e.library(), e.errorText(), 0, List.of(), "");
    }
    List<DeviceInfo> devices = new ArrayList<>();
    String error = "";
    try {
      for (Device d : runtime.devices()) {
        MemoryInfo memory = d.memoryInfo();
        devices.add(
            new DeviceInfo(
                d.index(), d.name(), physicalId(d), memory.freeBytes(), d.totalMemory()));
      }
    } catch (DeviceException e) {
      error = e.getMessage();
    }
    return new RuntimeReport(
        kind,
        true,
        runtime.library(),
        "loaded",
        runtime.driverVersion(),
        List.copyOf(devices),
        error);
  }

  private static String physicalId(Device d) {
    try {
      return d.physicalId();
    } catch (DeviceException e) {
      return "";
    }
  }

  /** A readable summary, one line per runtime and device. */
  public static String describe(List<RuntimeReport> reports) {
    StringBuilder b = new StringBuilder();
    for (RuntimeReport r : reports) {
      b.append(r.kind()).append(": ");
      if (!r.available()) {
        b.append("unavailable: ").append(r.message()).append('\n');
        continue;
      }
      b.append(r.devices().size()).append(" device(s)");
      if (!r.library().isEmpty()) {
        b.append(" from ").append(r.library());
      }
      if (r.driverVersion() > 0) {
        b.append(", driver ").append(r.driverVersion());
      }
      if (!r.error().isEmpty()) {
        b.append(", error: ").append(r.error());
      }
      b.append('\n');
      for (DeviceInfo d : r.devices()) {
        b.append("  ")
            .append(d.index())
            .append(": ")
            .append(d.name())
            .append(d.physicalId().isEmpty() ? "" : " (" + d.physicalId() + ")")
            .append(", ")
            .append(d.freeBytes() >> 20)
            .append(" MiB free of ")
            .append(d.totalBytes() >> 20)
            .append(" MiB\n");
      }
    }
    return b.toString();
  }

  /** Prints the probe's summary. */
  public static void main(String[] args) {
    System.out.print(describe(probe()));
  }
}
