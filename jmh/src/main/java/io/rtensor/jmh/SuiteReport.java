package io.rtensor.jmh;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.rtensor.bench.CodecWorkload;
import io.rtensor.bench.Comparison;
import io.rtensor.bench.D2hWorkload;
import io.rtensor.bench.FlightWorkload;
import io.rtensor.bench.Machine;
import io.rtensor.bench.RayPutGetWorkload;
import io.rtensor.bench.Report;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The formatter of {@code scripts/bench-suite}: turns JMH's JSON results ({@code -rf json}) into a
 * markdown table with each subject beside its baseline of the same run and the ratio, and a JSON
 * report with the machine described.
 *
 * <pre>
 * SuiteReport machine OUT.json        describe this machine (run it before the benchmarks)
 * SuiteReport gpu                     exit 0 and print the CUDA GPU's name, or exit 3 and why not
 * SuiteReport format --jmh JMH.json [--machine M.json] [--skip NAME=REASON]... [--out DIR]
 *                                     write DIR/bench-suite.md and DIR/bench-suite.json
 * </pre>
 */
public final class SuiteReport {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String PKG = "io.rtensor.jmh.";

  /**
   * A subject benchmark and its baseline, by method name, with the lowest throughput ratio aimed
   * for (NaN: none) from a size on.
   */
  record Pair(
      String name,
      String subject,
      String baseline,
      String subjectLabel,
      String baselineLabel,
      double goal,
      long goalFromMib) {}

  static final List<Pair> PAIRS =
      List.of(
          new Pair(
              "codec",
              "ShardCodecBenchmark.encodeDecode",
              "ShardCodecBenchmark.twoPlainCopies",
              "Arrow IPC encode+decode",
              "memcpy x2 (to byte[], back to Arrow)",
              CodecWorkload.GOAL,
              0),
          new Pair(
              "split",
              "ShardSplitBenchmark.splitAndEncode64",
              "ShardSplitBenchmark.encodeWhole",
              "split into 64 shards + encode, 16 MiB",
              "encode the whole batch once",
              Double.NaN,
              0),
          new Pair(
              "flight",
              "FlightFetchBenchmark.flightFetch",
              "FlightFetchBenchmark.rawSocket",
              "Flight fetch of 64 shards from a worker JVM",
              "raw Java socket copy, same JVMs",
              FlightWorkload.GOAL,
              0),
          new Pair(
              "same-node",
              "FlightFetchBenchmark.sameNodeFetch",
              "FlightFetchBenchmark.rawSocket",
              "same-node fetch of 64 shards through shared memory from a worker JVM",
              "raw Java socket copy, same JVMs",
              FlightWorkload.SAME_NODE_GOAL,
              0),
          new Pair(
              "ray",
              "RayObjectStoreBenchmark.javaActorsPutGet",
              "RayObjectStoreBenchmark.pythonActorsPutGet",
              "Ray object store put+get, Java actors",
              "Python ray.put+ray.get, Python actors",
              RayPutGetWorkload.GOAL,
              0),
          new Pair(
              "d2h",
              "D2hBenchmark.pinnedArrowChunked",
              "D2hBenchmark.baselineRawPinned",
              "D2H into pinned Arrow memory (ChunkedCopier)",
              D2hWorkload.BASELINE,
              D2hWorkload.GOAL,
              64),
          new Pair(
              "d2h-async",
              "D2hBenchmark.pinnedArrow",
              "D2hBenchmark.baselineRawPinned",
              "D2H into pinned Arrow memory (one async copy)",
              D2hWorkload.BASELINE,
              D2hWorkload.GOAL,
              64),
          new Pair(
              "d2h-pageable",
              "D2hBenchmark.pageableArrowStaged",
              "D2hBenchmark.baselineRawPinned",
              "D2H into pageable Arrow memory (staged)",
              D2hWorkload.BASELINE,
              0.8,
              256));

  /** One JMH result: benchmark (without the package), params, score and error in ms/op. */
  record Result(String benchmark, Map<String, String> params, double ms, double errorMs) {
    String paramText() {
      StringBuilder s = new StringBuilder();
      params.forEach((k, v) -> s.append(s.length() == 0 ? "" : ", ").append(k + "=" + v));
      return s.toString();
    }
  }

  /** The formatted suite. */
  record Suite(List<Comparison> comparisons, List<Result> others) {}

  private SuiteReport() {}

  public static void main(String[] args) throws Exception {
    if (args.length == 0) {
      System.err.println("usage: SuiteReport machine OUT.json | gpu | format --jmh JMH.json ...");
      System.exit(2);
    }
    switch (args[0]) {
      case "machine" -> Files.writeString(Path.of(args[1]), machineJson(Machine.describe()));
      case "gpu" -> {
        try {
          System.out.println(D2hWorkload.cudaDevice().name());
        } catch (D2hWorkload.NoDeviceException e) {
          System.out.println("no CUDA GPU (" + e.getMessage() + ")");
          System.exit(3);
        }
      }
      case "format" -> format(args);
      default -> {
        System.err.println("SuiteReport: unknown mode " + args[0]);
        System.exit(2);
      }
    }
  }

  private static void format(String[] args) throws IOException {
    List<Path> jmh = new ArrayList<>();
    Path machineFile = null;
    Path out = Path.of(".");
    Map<String, String> skips = new LinkedHashMap<>();
    for (int i = 1; i < args.length; i++) {
      switch (args[i]) {
        case "--jmh" -> jmh.add(Path.of(args[++i]));
        case "--machine" -> machineFile = Path.of(args[++i]);
        case "--out" -> out = Path.of(args[++i]);
        case "--skip" -> {
          String[] kv = args[++i].split("=", 2);
          skips.put(kv[0], kv.length > 1 ? kv[1] : "skipped");
        }
        default -> throw new IllegalArgumentException("unknown argument " + args[i]);
      }
    }
    List<Result> results = new ArrayList<>();
    for (Path p : jmh) {
      if (Files.isRegularFile(p) && Files.size(p) > 0) {
        results.addAll(parse(Files.readString(p)));
      }
    }
    Map<String, String> machine =
        machineFile != null && Files.isRegularFile(machineFile)
            ? readMachine(Files.readString(machineFile))
            : Machine.describe();
    Suite suite = pair(results, skips);
    Files.createDirectories(out);
    String md = markdown(machine, suite);
    Files.writeString(out.resolve("bench-suite.md"), md);
    Files.writeString(out.resolve("bench-suite.json"), json(machine, jmh, suite));
    System.out.print(md);
  }

  /** The results of a JMH JSON report, times in milliseconds per operation. */
  static List<Result> parse(String jmhJson) throws IOException {
    List<Result> results = new ArrayList<>();
    for (JsonNode run : JSON.readTree(jmhJson)) {
      String benchmark = run.path("benchmark").asText();
      if (benchmark.startsWith(PKG)) {
        benchmark = benchmark.substring(PKG.length());
      }
      Map<String, String> params = new TreeMap<>();
      Iterator<Map.Entry<String, JsonNode>> it = run.path("params").fields();
      while (it.hasNext()) {
        Map.Entry<String, JsonNode> e = it.next();
        params.put(e.getKey(), e.getValue().asText());
      }
      JsonNode metric = run.path("primaryMetric");
      double toMs = toMillis(metric.path("scoreUnit").asText("ms/op"));
      results.add(
          new Result(
              benchmark,
              params,
              number(metric.path("score")) * toMs,
              number(metric.path("scoreError")) * toMs));
    }
    return results;
  }

  private static double number(JsonNode n) {
    if (n.isNumber()) {
      return n.asDouble();
    }
    try {
      return Double.parseDouble(n.asText()); // JMH writes "NaN" as a string
    } catch (NumberFormatException e) {
      return Double.NaN;
    }
  }

  private static double toMillis(String unit) {
    return switch (unit) {
      case "ns/op" -> 1e-6;
      case "us/op" -> 1e-3;
      case "ms/op" -> 1;
      case "s/op" -> 1e3;
      default -> throw new IllegalArgumentException("unsupported JMH unit " + unit + " (use avgt)");
    };
  }

  /**
   * Each subject beside its baseline with the same params; pairs with neither in the results become
   * rows skipped for the reason in {@code skips} (by pair name), when one is given; results that
   * are in no pair are returned apart.
   */
  static Suite pair(List<Result> results, Map<String, String> skips) {
    List<Comparison> comparisons = new ArrayList<>();
    List<Result> used = new ArrayList<>();
    for (Pair pair : PAIRS) {
      boolean any = false;
      for (Result s : results) {
        if (!s.benchmark().equals(pair.subject())) {
          continue;
        }
        for (Result b : results) {
          if (b.benchmark().equals(pair.baseline()) && b.params().equals(s.params())) {
            any = true;
            used.add(s);
            used.add(b);
            String label = pair.subjectLabel() + size(s.params());
            double goal =
                pair.goalFromMib() > 0 && sizeMib(s.params()) < pair.goalFromMib()
                    ? Double.NaN
                    : pair.goal();
            comparisons.add(
                new Comparison(
                    pair.name(),
                    label,
                    s.ms(),
                    s.errorMs(),
                    pair.baselineLabel(),
                    b.ms(),
                    b.errorMs(),
                    sizeMib(s.params()) << 20,
                    goal,
                    null,
                    null));
          }
        }
      }
      String reason = skips.get(pair.name());
      if (!any && reason != null) {
        comparisons.add(
            Comparison.skipped(
                pair.name(), pair.subjectLabel(), pair.baselineLabel(), pair.goal(), reason));
      }
    }
    List<Result> others = new ArrayList<>(results);
    others.removeAll(used);
    return new Suite(comparisons, others);
  }

  private static long sizeMib(Map<String, String> params) {
    try {
      return Long.parseLong(params.getOrDefault("sizeMib", "0"));
    } catch (NumberFormatException e) {
      return 0;
    }
  }

  private static String size(Map<String, String> params) {
    long mib = sizeMib(params);
    return mib == 0 ? "" : mib % 1024 == 0 ? ", " + (mib / 1024) + " GiB" : ", " + mib + " MiB";
  }

  /**
   * What the suite's ratios are: each subject and its baseline are separate JMH benchmarks, run one
   * after the other, and "met" is read off one run's point ratio.
   */
  static final String SEQUENTIAL =
      "Timing: sequential. Each subject and its baseline are separate JMH benchmarks, measured one"
          + " after the other (not interleaved), and \"met\" is read off this one run's point ratio,"
          + " whose error bars can be wider than the margin. `./rtensor bench` interleaves subject"
          + " and baseline; the project calls a goal met only when three consecutive runs of it"
          + " meet it.";

  static String markdown(Map<String, String> machine, Suite suite) {
    StringBuilder s = new StringBuilder("# rtensor benchmark suite\n\n");
    s.append(Report.markdown(machine, suite.comparisons()));
    s.append("\n").append(SEQUENTIAL).append("\n");
    if (!suite.others().isEmpty()) {
      s.append(
          "\nOther measurements (no baseline):\n\n| benchmark | params | time |\n| --- | --- | --- |\n");
      for (Result r : suite.others()) {
        s.append("| ")
            .append(r.benchmark())
            .append(" | ")
            .append(r.paramText().isEmpty() ? "-" : r.paramText())
            .append(" | ")
            .append(Comparison.time(r.ms(), r.errorMs()))
            .append(" |\n");
      }
    }
    return s.toString();
  }

  static String json(Map<String, String> machine, List<Path> jmh, Suite suite) {
    Map<String, Object> settings = new LinkedHashMap<>();
    settings.put("jmhResults", String.join(", ", jmh.stream().map(Path::toString).toList()));
    settings.put(
        "timing",
        "JMH average time per operation, score and 99.9% error; subject and baseline sequential,"
            + " not interleaved");
    String report = Report.json(machine, settings, suite.comparisons());
    StringBuilder others = new StringBuilder();
    for (Result r : suite.others()) {
      others
          .append(others.length() == 0 ? "\n    " : ",\n    ")
          .append("{\"benchmark\": ")
          .append(Report.quote(r.benchmark()))
          .append(", \"params\": ")
          .append(Report.quote(r.paramText()))
          .append(", \"ms\": ")
          .append(Report.number(r.ms()))
          .append(Double.isNaN(r.errorMs()) ? "" : ", \"errorMs\": " + Report.number(r.errorMs()))
          .append('}');
    }
    int end = report.lastIndexOf('}');
    return report.substring(0, end).stripTrailing()
        + ",\n  \"others\": ["
        + others
        + (others.length() == 0 ? "]\n}\n" : "\n  ]\n}\n");
  }

  static String machineJson(Map<String, String> machine) {
    StringBuilder s = new StringBuilder("{");
    machine.forEach(
        (k, v) ->
            s.append(s.length() == 1 ? "" : ", ")
                .append(Report.quote(k))
                .append(": ")
                .append(Report.quote(v)));
    return s.append("}\n").toString();
  }

  static Map<String, String> readMachine(String json) throws IOException {
    Map<String, String> m = new LinkedHashMap<>();
    Iterator<Map.Entry<String, JsonNode>> it = JSON.readTree(json).fields();
    while (it.hasNext()) {
      Map.Entry<String, JsonNode> e = it.next();
      m.put(e.getKey(), e.getValue().asText());
    }
    return m;
  }
}
