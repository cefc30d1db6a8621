package io.rtensor.bench;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * The machine a benchmark ran on, for the report beside the figures: CPU model, cores, memory, OS,
 * JVM, load average, date and the CUDA GPU if one is usable.
 */
public final class Machine {
  private Machine() {}

  /** Field name to value, in report order. */
  public static Map<String, String> describe() {
    Map<String, String> m = new LinkedHashMap<>();
    m.put("cpu", cpuModel().orElse(System.getProperty("os.arch")));
    m.put("cores", Integer.toString(Runtime.getRuntime().availableProcessors()));
    m.put("memory", memory().orElse("unknown"));
    m.put(
        "os",
        System.getProperty("os.name")
            + " "
            + System.getProperty("os.version")
            + " "
            + System.getProperty("os.arch"));
    m.put(
        "jvm",
        System.getProperty("java.vm.name")
            + " "
            + System.getProperty("java.runtime.version", System.getProperty("java.version")));
    m.put("load", loadAverage());
    m.put("date", Instant.now().truncatedTo(ChronoUnit.SECONDS).toString());
    m.put("gpu", D2hWorkload.cudaDeviceName().orElse("none"));
    return m;
  }

  /** The machine as one line, {@code key: value} pairs separated by commas. */
  public static String oneLine(Map<String, String> machine) {
    StringBuilder s = new StringBuilder();
    machine.forEach((k, v) -> s.append(s.length() == 0 ? "" : ", ").append(k + ": " + v));
    return s.toString();
  }

  private static Optional<String> cpuModel() {
    try {
      return Files.readAllLines(Path.of("/proc/cpuinfo")).stream()
          .filter(l -> l.startsWith("model name") || l.startsWith("Model"))
          .map(l -> l.substring(l.indexOf(':') + 1).strip())
          .findFirst();
    } catch (IOException | RuntimeException e) {
      return Optional.empty();
    }
  }

  private static Optional<String> memory() {
    try {
      return Files.readAllLines(Path.of("/proc/meminfo")).stream()
          .filter(l -> l.startsWith("MemTotal:"))
          .map(l -> Long.parseLong(l.replaceAll("[^0-9]", "")))
          .map(kib -> String.format(Locale.ROOT, "%.1f GiB", kib / (1024.0 * 1024.0)))
          .findFirst();
    } catch (IOException | RuntimeException e) {
      return Optional.empty();
    }
  }

  private static String loadAverage() {
    try {
      String[] f = Files.readString(Path.of("/proc/loadavg")).strip().split("\\s+");
      return f[0] + " " + f[1] + " " + f[2];
    } catch (IOException | RuntimeException e) {
      double load = ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage();
      return load < 0 ? "unknown" : String.format(Locale.ROOT, "%.2f", load);
    }
  }
}
