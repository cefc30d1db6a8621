package io.rtensor.jmh;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.rtensor.bench.Comparison;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The bench-suite formatter on a small JMH JSON sample. */
class SuiteReportTest {
  private static String sample() throws Exception {
    try (InputStream in = SuiteReportTest.class.getResourceAsStream("/jmh-sample.json")) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
  }

  private static final Map<String, String> MACHINE = new LinkedHashMap<>();

  static {
    MACHINE.put("cpu", "Test CPU");
    MACHINE.put("cores", "2");
    MACHINE.put("gpu", "none");
  }

  @Test
  void parsesScoresInMillisecondsWithParams() throws Exception {
    List<SuiteReport.Result> results = SuiteReport.parse(sample());
    assertEquals(10, results.size());
    SuiteReport.Result copies = results.get(2);
    assertEquals("ShardCodecBenchmark.twoPlainCopies", copies.benchmark());
    assertEquals(72.0, copies.ms(), 1e-9, "us/op converted");
    assertEquals(3.0, copies.errorMs(), 1e-9);
    assertTrue(Double.isNaN(results.get(1).errorMs()), "JMH's \"NaN\" error");
    assertEquals(Map.of("sizeMib", "64"), results.get(3).params());
  }

  @Test
  void pairsEachSubjectWithItsBaselineOfTheSameParams() throws Exception {
    SuiteReport.Suite suite =
        SuiteReport.pair(
            SuiteReport.parse(sample()), Map.of("ray", "no Ray head", "d2h", "no CUDA GPU (test)"));
    List<Comparison> c = suite.comparisons();
    assertEquals(
        List.of("codec", "flight", "ray", "d2h", "d2h"), c.stream().map(Comparison::name).toList());

    Comparison codec = c.get(0);
    assertEquals(80.0, codec.subjectMs(), 1e-9);
    assertEquals(72.0, codec.baselineMs(), 1e-9);
    assertEquals(0.9, codec.ratio(), 1e-9);
    assertTrue(codec.met(), "0.9 >= 0.8");

    Comparison flight = c.get(1);
    assertEquals("Flight fetch of 64 shards from a worker JVM, 64 MiB", flight.subject());
    assertEquals(0.1, flight.ratio(), 1e-9);
    assertFalse(flight.met());

    assertEquals("no Ray head", c.get(2).skipped());

    Comparison d2hSmall = c.get(3);
    assertEquals(0.8, d2hSmall.ratio(), 1e-9);
    assertTrue(Double.isNaN(d2hSmall.goal()), "the D2H goal applies from 64 MiB");
    Comparison d2h64 = c.get(4);
    assertEquals(1.0, d2h64.ratio(), 1e-9);
    assertEquals(0.95, d2h64.goal(), 1e-9);
    assertNull(d2h64.skipped(), "a measured pair is not also listed as skipped");

    assertEquals(
        List.of("ShardCodecBenchmark.encodeOnly", "FlightFetchBenchmark.flightFetch10kSmallShards"),
        suite.others().stream().map(SuiteReport.Result::benchmark).toList());
  }

  @Test
  void writesAMarkdownTableAndJsonWithTheMachine() throws Exception {
    SuiteReport.Suite suite =
        SuiteReport.pair(SuiteReport.parse(sample()), Map.of("ray", "no Ray head"));
    String md = SuiteReport.markdown(MACHINE, suite);
    assertTrue(md.contains("Machine: cpu: Test CPU, cores: 2, gpu: none"), md);
    assertTrue(md.contains("| subject | time | baseline | time | ratio | goal |"), md);
    assertTrue(
        md.contains(
            "| Arrow IPC encode+decode | 80.0 ± 4.0 ms | memcpy x2 (to byte[], back to Arrow)"
                + " | 72.0 ± 3.0 ms | 0.90x | >= 0.80 met |"),
        md);
    assertTrue(md.contains("| 0.10x | >= 0.90 MISSED |"), md);
    assertTrue(md.contains("Timing: sequential."), md);
    assertTrue(md.contains("| skipped | >= 1.00 (skipped: no Ray head) |"), md);
    assertTrue(
        md.contains(
            "| FlightFetchBenchmark.flightFetch10kSmallShards | sizeMib=64 | 900 ± 30 ms |"),
        md);

    JsonNode json =
        new ObjectMapper().readTree(SuiteReport.json(MACHINE, List.of(Path.of("jmh.json")), suite));
    assertEquals("Test CPU", json.path("machine").path("cpu").asText());
    assertEquals("codec", json.path("results").get(0).path("name").asText());
    assertEquals(0.9, json.path("results").get(0).path("ratio").asDouble(), 1e-6);
    assertEquals("skipped", json.path("results").get(2).path("status").asText());
    assertEquals(2, json.path("others").size());
    assertEquals(
        MACHINE, SuiteReport.readMachine(SuiteReport.machineJson(MACHINE)), "machine round trip");
  }
}
