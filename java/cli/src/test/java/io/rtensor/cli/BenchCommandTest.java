package io.rtensor.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.rtensor.bench.Comparison;
import io.rtensor.bench.D2hWorkload;
import io.rtensor.bench.Report;
import io.rtensor.testing.RayTestCluster;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** {@code ./rtensor bench}: its command line, and real runs of its comparisons at tiny sizes. */
class BenchCommandTest {
  private record Run(int code, String out, String err) {}

  private static Run run(String... args) {
    return run(new BenchCommand(), args);
  }

  /** Runs {@code ./rtensor bench ARGS} with {@code bench} as the bench command. */
  private static Run run(BenchCommand bench, String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    String[] full = new String[args.length + 1];
    full[0] = "bench";
    System.arraycopy(args, 0, full, 1, args.length);
    int code =
        new Main(
                new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8),
                InputStream.nullInputStream())
            .with(bench)
            .execute(full);
    return new Run(
        code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
  }

  @Test
  void helpPrintsUsageAndBadCommandLinesExitTwo() {
    Run help = run("--help");
    assertEquals(0, help.code());
    assertTrue(help.out().startsWith("usage: ./rtensor bench"), help.out());
    for (List<String> bad :
        List.of(
            List.of("--bogus"),
            List.of("extra"),
            List.of("--reps"),
            List.of("--reps", "0"),
            List.of("--reps", "many"),
            List.of("--size-mib", "-1"),
            List.of("--warmup", "-2"),
            List.of("--only", "codec,nope"),
            List.of("--quick", "--full"),
            List.of("--nodes"),
            List.of("--nodes", "3"),
            List.of("--nodes", "two"),
            List.of("--only", "ray-cross-node,cross-node"),
            List.of("--ray-address"))) {
      Run r = run(bad.toArray(String[]::new));
      assertEquals(2, r.code(), bad + ": " + r.err());
      assertTrue(r.err().startsWith("rtensor bench: "), r.err());
      assertEquals("", r.out(), bad.toString());
    }
  }

  @Test
  void optionsSetSizesRepsAndComparisons() throws Exception {
    BenchCommand.Options quick = BenchCommand.parse(new String[0]);
    assertEquals("quick", quick.settings().preset());
    assertEquals(BenchCommand.ALL, List.copyOf(quick.only()));
    assertFalse(quick.json());
    assertEquals(0, quick.nodes(), "no --nodes: no head is started");
    assertEquals(256L << 20, quick.settings().crossNodeBytes(), "quick: 16 x 16 MiB");
    assertEquals(16L << 20, quick.settings().crossNodeShardBytes());
    assertEquals(256L << 20, quick.settings().gpuToGpuBytes(), "quick: 16 x 16 MiB");
    assertEquals(16L << 20, quick.settings().gpuToGpuShardBytes());
    BenchCommand.Settings full = BenchCommand.parse(new String[] {"--full"}).settings();
    assertEquals(64L << 20, full.gpuToGpuShardBytes(), "full: 1 GiB as 16 x 64 MiB");
    assertEquals(1L << 30, full.d2hBytes(), "full: d2h and h2d 1 GiB");
    assertTrue(
        BenchCommand.ALL.containsAll(
            List.of("d2h", "h2d", "gpu-to-gpu-flight", "gpu-to-gpu-ray", "gpu-to-gpu-ipc")));

    BenchCommand.Options o =
        BenchCommand.parse(
            new String[] {
              "--full",
              "--size-mib",
              "2",
              "--reps",
              "7",
              "--warmup",
              "0",
              "--only",
              "flight,codec",
              "--json",
              "--ray-address",
              "127.0.0.1:1"
            });
    assertEquals("full", o.settings().preset());
    assertEquals(2L << 20, o.settings().codecBytes());
    assertEquals(2L << 20, o.settings().flightBytes());
    assertEquals(2L << 20, o.settings().rayBytes());
    assertEquals(2L << 20, o.settings().d2hBytes());
    assertEquals(2L << 20, o.settings().gpuToGpuBytes());
    assertEquals(128L << 10, o.settings().gpuToGpuShardBytes(), "2 MiB as 16 shards");
    assertEquals(7, o.settings().reps());
    assertEquals(0, o.settings().warmup());
    assertEquals(0, o.settings().flightWarmupMs(), "an explicit --warmup drops the time floor");
    assertEquals(10_000, quick.settings().flightWarmupMs(), "the JIT of both JVMs needs time");
    assertEquals(25_000, BenchCommand.parse(new String[] {"--full"}).settings().flightWarmupMs());
    assertEquals(List.of("flight", "codec"), List.copyOf(o.only()));
    assertTrue(o.json());
    assertEquals("127.0.0.1:1", o.rayAddress());
    assertEquals(2L << 20, o.settings().crossNodeBytes());
    assertEquals(128L << 10, o.settings().crossNodeShardBytes(), "2 MiB as 16 shards");

    BenchCommand.Options cross =
        BenchCommand.parse(
            new String[] {"--full", "--nodes", "2", "--only", "ray-cross-node,flight-cross-node"});
    assertEquals(2, cross.nodes());
    assertEquals(List.of("ray-cross-node", "flight-cross-node"), List.copyOf(cross.only()));
    assertEquals(1L << 30, cross.settings().crossNodeBytes(), "full: 1 GiB");
    assertEquals(64L << 20, cross.settings().crossNodeShardBytes(), "as 16 x 64 MiB");
    assertTrue(BenchCommand.ALL.containsAll(List.of("ray-cross-node", "flight-cross-node")));
    assertEquals(1L << 30, BenchCommand.parse(new String[] {"--full"}).settings().flightBytes());
    assertEquals("64 KiB", BenchCommand.size(64 << 10));
    assertEquals("1 GiB", BenchCommand.size(1L << 30));
  }

  @Test
  void jsonReportsTheCpuComparisonsMeasuredBesideTheirBaselines() throws Exception {
    Run r =
        run(
            "--json",
            "--only",
            "codec,flight,flight-tls,d2h",
            "--size-mib",
            "1",
            "--reps",
            "2",
            "--warmup",
            "1");
    assertEquals(0, r.code(), r.err());
    JsonNode json = new ObjectMapper().readTree(r.out());
    for (String field : List.of("cpu", "cores", "memory", "os", "jvm", "load", "date", "gpu")) {
      assertFalse(json.path("machine").path(field).asText().isEmpty(), field + ": " + r.out());
    }
    assertEquals(2, json.path("settings").path("reps").asInt());
    JsonNode results = json.path("results");
    assertEquals(4, results.size(), r.out());

    JsonNode codec = results.get(0);
    assertEquals("codec", codec.path("name").asText());
    assertEquals("ran", codec.path("status").asText());
    assertEquals(1L << 20, codec.path("bytes").asLong());
    assertTrue(codec.path("subjectMs").asDouble() > 0, r.out());
    assertTrue(codec.path("baselineMs").asDouble() > 0, r.out());
    assertEquals(
        codec.path("baselineMs").asDouble() / codec.path("subjectMs").asDouble(),
        codec.path("ratio").asDouble(),
        1e-3 * codec.path("ratio").asDouble());
    assertEquals(0.8, codec.path("goal").asDouble(), 1e-9);
    assertTrue(codec.path("met").isBoolean(), r.out());

    JsonNode flight = results.get(1);
    assertEquals("flight", flight.path("name").asText());
    assertEquals("ran", flight.path("status").asText());
    assertEquals(1L << 20, flight.path("bytes").asLong(), "64 shards of 16 KiB");
    assertTrue(flight.path("subject").asText().contains("64 x 16 KiB"), r.out());
    assertTrue(flight.path("subjectMs").asDouble() > 0 && flight.path("ratio").asDouble() > 0);

    JsonNode tls = results.get(2);
    assertEquals("flight-tls", tls.path("name").asText());
    assertEquals("ran", tls.path("status").asText(), r.out());
    assertTrue(tls.path("subject").asText().contains("over TLS"), r.out());
    assertTrue(tls.path("baseline").asText().contains("plaintext Flight"), r.out());
    assertTrue(tls.path("subjectMs").asDouble() > 0 && tls.path("ratio").asDouble() > 0);

    JsonNode d2h = results.get(3);
    if (D2hWorkload.cudaDeviceName().isEmpty()) {
      assertEquals("skipped", d2h.path("status").asText(), r.out());
      assertTrue(d2h.path("reason").asText().startsWith("no CUDA GPU ("), r.out());
    } else {
      assertEquals(
          D2hWorkload.cudaDevice().runtime().isFake() ? "checked" : "ran",
          d2h.path("status").asText(),
          r.out());
    }
  }

  private static final List<String> DEVICE_ROWS =
      List.of("d2h", "h2d", "gpu-to-gpu-flight", "gpu-to-gpu-ray", "gpu-to-gpu-ipc");

  @Test
  void deviceRowsWithoutACudaRuntimeAreSkippedSayingWhy() throws Exception {
    assumeTrue(
        D2hWorkload.cudaDeviceName().isEmpty(), "this JVM has a CUDA runtime: rows would run");
    Run r =
        run(
            new BenchCommand(() -> false),
            "--json",
            "--only",
            String.join(",", DEVICE_ROWS),
            "--size-mib",
            "1",
            "--ray-address",
            "127.0.0.1:1");
    assertEquals(0, r.code(), r.err());
    JsonNode results = readJson(r.out()).path("results");
    assertEquals(DEVICE_ROWS.size(), results.size(), r.out());
    for (int i = 0; i < DEVICE_ROWS.size(); i++) {
      JsonNode row = results.get(i);
      assertEquals(DEVICE_ROWS.get(i), row.path("name").asText());
      assertEquals("skipped", row.path("status").asText(), r.out());
      assertTrue(row.path("reason").asText().startsWith("no CUDA GPU ("), r.out());
      assertTrue(row.path("baseline").asText().contains("direct driver calls"), r.out());
      assertFalse(row.has("ratio"), r.out());
    }
  }

  /** The project's fake CUDA driver, built by the native module's tests. */
  private static String fakeCuda() {
    Path lib =
        Path.of(System.getProperty("rtensor.root", "."), "native", "target", "fake")
            .resolve("libfakecuda.so")
            .toAbsolutePath()
            .normalize();
    assertTrue(Files.isRegularFile(lib), "no fake CUDA driver at " + lib + ": build native");
    return lib.toString();
  }

  /**
   * The device rows of a bench run on the fake CUDA runtime, in a JVM of its own (a process loads a
   * runtime once): each ran end to end with its bytes checked and is reported as a check, with no
   * time, ratio or verdict on its goal.
   */
  private static void assertCheckedOnTheFake(JsonNode row, String name, long bytes, String out) {
    assertEquals(name, row.path("name").asText(), out);
    assertEquals("checked", row.path("status").asText(), out);
    assertEquals(bytes, row.path("bytes").asLong(), out);
    assertTrue(
        row.path("check").asText().startsWith("checked on the fake CUDA runtime (libfakecuda.so)")
            && row.path("check").asText().contains("every byte verified"),
        out);
    assertTrue(row.path("met").isNull(), out);
    for (String speed : List.of("subjectMs", "baselineMs", "ratio")) {
      assertFalse(row.has(speed), speed + " of a check: " + out);
    }
    assertTrue(row.path("baseline").asText().contains("direct driver calls"), out);
  }

  @Test
  void deviceRowsOnTheFakeCudaRuntimeRunEndToEndAsCorrectnessChecks() throws Exception {
    ChildLauncher.Result r =
        ChildLauncher.run(
            300,
            Map.of("RTENSOR_CUDA_LIBRARY", fakeCuda()),
            "bench",
            "--json",
            "--only",
            String.join(",", DEVICE_ROWS),
            "--size-mib",
            "2",
            "--reps",
            "2",
            "--warmup",
            "1",
            "--ray-address",
            "127.0.0.1:1");
    assertEquals(0, r.code(), r.toString());
    JsonNode json = readJson(r.out());
    assertTrue(
        json.path("machine")
            .path("gpu")
            .asText()
            .endsWith("(fake CUDA runtime: correctness checks only)"),
        r.out());
    JsonNode results = json.path("results");
    assertEquals(5, results.size(), r.out());
    assertCheckedOnTheFake(results.get(0), "d2h", 2L << 20, r.out());
    assertTrue(
        results
            .get(0)
            .path("baseline")
            .asText()
            .startsWith("cuMemcpyDtoHAsync + cuStreamSynchronize into cuMemAllocHost"),
        r.out());
    assertCheckedOnTheFake(results.get(1), "h2d", 2L << 20, r.out());
    assertTrue(
        results
            .get(1)
            .path("baseline")
            .asText()
            .startsWith("cuMemcpyHtoDAsync + cuStreamSynchronize from cuMemAllocHost"),
        r.out());
    assertCheckedOnTheFake(results.get(2), "gpu-to-gpu-flight", 2L << 20, r.out());
    JsonNode flight = results.get(2);
    assertTrue(
        flight
                .path("subject")
                .asText()
                .startsWith("GPU -> GPU through Flight, 16 x 128 KiB device tensors")
            && flight
                .path("subject")
                .asText()
                .matches(
                    ".*producer on cuda:0 \\(.*, (\\S+)\\), consumer on cuda:0 \\(.*, (?!\\1\\))\\S+\\)$"),
        "two workers on the fake's two devices: " + r.out());
    assertTrue(
        flight.path("baseline").asText().startsWith("serial raw chain, same workers"), r.out());
    assertEquals(1.0, flight.path("goal").asDouble(), 1e-9);
    JsonNode ipc = results.get(4);
    assertCheckedOnTheFake(ipc, "gpu-to-gpu-ipc", 2L << 20, r.out());
    assertTrue(
        ipc.path("subject")
            .asText()
            .startsWith("GPU -> GPU kept on the producer's GPU, by CUDA IPC, 16 x 128 KiB"),
        r.out());
    assertTrue(ipc.path("baseline").asText().contains("cuIpcOpenMemHandle, cuMemcpyDtoD"), r.out());
    assertTrue(ipc.path("goal").isNull(), "no goal until a GPU measures it: " + r.out());
    JsonNode ray = results.get(3);
    assertEquals("gpu-to-gpu-ray", ray.path("name").asText());
    assertEquals("skipped", ray.path("status").asText(), r.out());
    assertTrue(
        ray.path("reason").asText().startsWith("no Ray head reachable at 127.0.0.1:1"), r.out());
  }

  @Test
  @Tag("ray")
  void gpuToGpuRayRowRunsOnTheFakeCudaRuntimeBetweenRayActorsAsACheck() throws Exception {
    String address =
        System.getProperty("rtensor.ray.address", System.getenv("RTENSOR_RAY_ADDRESS"));
    RayTestCluster.connect(); // fails under CI without a head, skips elsewhere
    ChildLauncher.Result r =
        ChildLauncher.run(
            300,
            Map.of("RTENSOR_CUDA_LIBRARY", fakeCuda()),
            "bench",
            "--json",
            "--only",
            "gpu-to-gpu-ray",
            "--size-mib",
            "2",
            "--reps",
            "2",
            "--warmup",
            "1",
            "--ray-address",
            address);
    assertEquals(0, r.code(), r.toString());
    JsonNode row = readJson(r.out()).path("results").get(0);
    assertCheckedOnTheFake(row, "gpu-to-gpu-ray", 2L << 20, r.out());
    assertTrue(row.path("subject").asText().contains("(a forked worker: the same GPU)"), r.out());
    assertTrue(row.path("baseline").asText().contains("plasma create + memcpy + seal"), r.out());
  }

  @Test
  void aCheckedRowShowsNoTimeOrRatioAndSaysWhyItsGoalIsNotJudged() throws Exception {
    Comparison checked =
        Comparison.checked("h2d", "H2D subject", "raw baseline", 1 << 20, 0.95, "on the fake");
    Comparison measured = Comparison.measured("codec", "codec subject", 2, "copies", 1, 8, 0.8);
    assertTrue(checked.ran() && checked.checked() && !checked.measured());
    assertTrue(Double.isNaN(checked.ratio()));
    assertFalse(checked.met(), "a check meets no goal");
    assertEquals(">= 0.95", checked.goalText());
    String table = Report.table(List.of(checked, measured));
    String row = row(table.lines().toList(), "H2D subject");
    assertTrue(
        row.matches(
            "H2D subject +- +raw baseline +- +checked +>= 0\\.95 \\(not judged: on the fake\\)"),
        row);
    assertTrue(table.contains("checked = ran end to end on a fake device runtime"), table);
    assertFalse(
        Report.table(List.of(measured)).contains("checked ="), "no note without a checked row");
    JsonNode results =
        readJson(Report.json(Map.of(), Map.of(), List.of(checked, measured))).path("results");
    assertEquals("checked", results.get(0).path("status").asText());
    assertEquals("on the fake", results.get(0).path("check").asText());
    assertEquals(1 << 20, results.get(0).path("bytes").asLong());
    assertFalse(results.get(0).has("ratio"));
    assertTrue(results.get(0).path("met").isNull());
    assertEquals("ran", results.get(1).path("status").asText());
    assertEquals(0.5, results.get(1).path("ratio").asDouble(), 1e-9);
  }

  @Test
  void flightSmallFetchesTenThousandSmallShardsBesideLengthPrefixedMessagesOnARawSocket()
      throws Exception {
    Run r =
        run(
            new BenchCommand(() -> false),
            "--only",
            "flight-small",
            "--json",
            "--reps",
            "1",
            "--warmup",
            "0");
    assertEquals(0, r.code(), r.err());
    JsonNode row = new ObjectMapper().readTree(r.out()).path("results").get(0);
    assertEquals("flight-small", row.path("name").asText(), r.out());
    assertEquals("ran", row.path("status").asText(), r.out());
    assertEquals(10_000L * 4096, row.path("bytes").asLong());
    assertTrue(row.path("subject").asText().contains("10000 x 4 KiB"), r.out());
    assertTrue(row.path("baseline").asText().contains("length-prefixed"), r.out());
    assertTrue(row.path("subjectMs").asDouble() > 0 && row.path("baselineMs").asDouble() > 0);
    assertEquals(0.4, row.path("goal").asDouble(), 1e-9);
  }

  @Test
  void tableShowsEachSubjectBesideItsBaselineAndSaysWhyARowWasSkipped() {
    // A bench that sees no Ray connection in this JVM, whatever other tests connected: no head
    // answers at port 1, so the Ray row is skipped and says why.
    Run r =
        run(
            new BenchCommand(() -> false),
            "--only",
            "codec,flight,ray",
            "--size-mib",
            "1",
            "--reps",
            "1",
            "--warmup",
            "0",
            "--ray-address",
            "127.0.0.1:1");
    assertEquals(0, r.code(), r.err());
    List<String> lines = r.out().lines().toList();
    assertTrue(lines.get(0).startsWith("machine: cpu: "), r.out());
    String header = lines.stream().filter(l -> l.startsWith("subject")).findFirst().orElseThrow();
    assertTrue(header.matches("subject +time +baseline +time +ratio +goal"), header);
    String codec = row(lines, "Arrow IPC encode+decode, 1 MiB shard");
    assertTrue(
        codec.contains("memcpy x2") && codec.matches(".* ms .* ms +\\d+\\.\\d\\dx +>= 0\\.80 .*"),
        codec);
    String flight = row(lines, "Flight fetch, 64 x 16 KiB from a worker JVM");
    assertTrue(flight.contains("raw Java socket copy") && flight.contains(">= 0.90"), flight);
    String ray = row(lines, "Ray object store put+get");
    assertTrue(ray.contains("Python ray.put+ray.get"), ray);
    assertTrue(ray.contains("skipped: no Ray head reachable at 127.0.0.1:1"), ray);
  }

  @Test
  void theRayRowSaysWhyItCannotRunWithoutAConnectionOrAHead() {
    assertEquals(
        "no Ray head (set RTENSOR_RAY_ADDRESS or --ray-address; scripts/ray-head start)",
        BenchCommand.rayUnavailable(null, false));
    String unreachable = BenchCommand.rayUnavailable("127.0.0.1:1", false);
    assertTrue(
        unreachable != null && unreachable.startsWith("no Ray head reachable at 127.0.0.1:1 ("),
        unreachable);
    assertTrue(
        BenchCommand.rayUnavailable("no-port", false).endsWith("(not HOST:PORT)"),
        "an address without a port");
    assertEquals(null, BenchCommand.rayUnavailable("127.0.0.1:1", true), "connected: runs");
  }

  @Test
  void theCrossNodeRowsSayWhyTheyCannotRunWithoutATwoNodeHead() {
    // No head and no --nodes 2: both rows are skipped, and say how to run them.
    Run r =
        run(
            new BenchCommand(() -> false),
            "--json",
            "--only",
            "ray-cross-node,flight-cross-node",
            "--size-mib",
            "1",
            "--ray-address",
            "127.0.0.1:1");
    assertEquals(0, r.code(), r.err());
    JsonNode results = readJson(r.out()).path("results");
    assertEquals(2, results.size(), r.out());
    for (int i = 0; i < 2; i++) {
      JsonNode row = results.get(i);
      assertEquals(
          List.of("ray-cross-node", "flight-cross-node").get(i), row.path("name").asText());
      assertEquals("skipped", row.path("status").asText(), r.out());
      String reason = row.path("reason").asText();
      assertTrue(
          reason.startsWith("needs a Ray head of two nodes: run with --nodes 2 to start one")
              && reason.contains("; no Ray head reachable at 127.0.0.1:1 ("),
          reason);
      assertEquals(0.9, row.path("goal").asDouble(), 1e-9);
    }

    assertTrue(
        BenchCommand.crossNodeUnavailable(null, false, 0)
            .startsWith("needs a Ray head of two nodes: run with --nodes 2"),
        "no head");
    assertEquals(null, BenchCommand.crossNodeUnavailable(null, false, 2), "--nodes 2 starts one");
    assertEquals(null, BenchCommand.crossNodeUnavailable(null, true, 0), "connected: the GCS says");
    assertEquals(null, BenchCommand.nodePair("127.0.0.1", List.of("127.0.0.1")), "one node");
    assertEquals(
        List.of("127.0.0.2", "127.0.0.1"),
        List.of(BenchCommand.nodePair("127.0.0.1", List.of("127.0.0.3", "127.0.0.2", "127.0.0.1"))),
        "serving on the first other node, fetching here");
    assertTrue(
        BenchCommand.oneNodeReason("127.0.0.1:6390", List.of("127.0.0.1"))
            .startsWith("the Ray head at 127.0.0.1:6390 has 1 alive node(s) [127.0.0.1]: the"),
        "a one-node head");
    assertEquals(null, BenchCommand.notLocal("127.0.0.2"), "all of 127/8 is this machine's");
    String remote = BenchCommand.notLocal("203.0.113.7");
    assertTrue(
        remote != null
            && remote.startsWith("the other node's IP 203.0.113.7 is not an address of this"),
        remote);
  }

  private static JsonNode readJson(String text) {
    try {
      return new ObjectMapper().readTree(text);
    } catch (java.io.IOException e) {
      throw new AssertionError(text, e);
    }
  }

  private static String row(List<String> lines, String start) {
    return lines.stream()
        .filter(l -> l.startsWith(start))
        .findFirst()
        .orElseThrow(() -> new AssertionError("no row " + start + " in " + lines));
  }

  @Test
  @Tag("ray")
  void rayRowMeasuresTheObjectStoreBesidePythonOnARealHead() throws Exception {
    RayTestCluster.connect();
    Run r = run("--json", "--only", "ray", "--size-mib", "1", "--reps", "2", "--warmup", "1");
    assertEquals(0, r.code(), r.err());
    JsonNode ray = new ObjectMapper().readTree(r.out()).path("results").get(0);
    assertEquals("ran", ray.path("status").asText(), r.out());
    assertEquals(1L << 20, ray.path("bytes").asLong());
    assertTrue(ray.path("subjectMs").asDouble() > 0 && ray.path("baselineMs").asDouble() > 0);
    assertEquals(1.0, ray.path("goal").asDouble(), 1e-9);
  }

  @Test
  @Tag("ray")
  void crossNodeRowsMoveShardsBetweenTheTwoNodesOfARealHead() throws Exception {
    RayTestCluster.connect();
    RayTestCluster.requireNodes(2);
    Run r =
        run(
            "--json",
            "--only",
            "ray-cross-node,flight-cross-node",
            "--size-mib",
            "1",
            "--reps",
            "2",
            "--warmup",
            "1");
    assertEquals(0, r.code(), r.err());
    JsonNode results = new ObjectMapper().readTree(r.out()).path("results");
    // The row checked the GCS's actor table: producers on one node, consumers on the other.
    assertTrue(
        r.err()
            .matches(
                "(?s).*ray-cross-node actors on \\{Java consumer=(\\S+), Java producer="
                    + "(?!\\1,)\\S+, Python consumer=\\1, Python producer=\\S+}.*"),
        r.err());
    for (JsonNode row : results) {
      assertEquals("ran", row.path("status").asText(), r.out());
      assertEquals(1L << 20, row.path("bytes").asLong(), "16 shards of 64 KiB");
      assertTrue(row.path("subject").asText().contains("16 x 64 KiB"), r.out());
      assertTrue(row.path("subject").asText().matches(".* (\\S+) -> (?!\\1$)\\S+"), r.out());
      assertTrue(row.path("subjectMs").asDouble() > 0 && row.path("baselineMs").asDouble() > 0);
      assertEquals(0.9, row.path("goal").asDouble(), 1e-9);
    }
    assertEquals(
        List.of("ray-cross-node", "flight-cross-node"),
        List.of(results.get(0).path("name").asText(), results.get(1).path("name").asText()));
  }
}
