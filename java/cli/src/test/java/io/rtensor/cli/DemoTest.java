package io.rtensor.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rtensor.device.RuntimeKind;
import io.rtensor.testing.RayTestCluster;
import io.rtensor.testing.engines.DeviceEngine;
import io.rtensor.transport.DataPlaneKind;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** The main job end to end: rollout workers to training workers through handles, verified. */
class DemoTest {

  @Test
  void demoOnTheEmbeddedDefaultVerifiesEveryStepAndLeavesTheStoresEmpty() {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int code =
        Main.run(
            new String[] {"demo", "--steps", "3", "--batch", "8", "--seq", "16", "--hidden", "4"},
            new PrintStream(out, true, StandardCharsets.UTF_8),
            new PrintStream(err, true, StandardCharsets.UTF_8));
    String text = out.toString(StandardCharsets.UTF_8);
    assertEquals(0, code, text + err.toString(StandardCharsets.UTF_8));
    assertTrue(text.strip().endsWith("verified"), text);
    assertTrue(text.contains("rollout -> train"), text);
    assertTrue(
        text.contains(
            "shard stores, fetch caches and workers' Arrow memory empty after every sampled clear"),
        text);
    assertTrue(
        text.matches("(?s).*\\n +3 +[0-9.]+ MiB +[0-9.]+ MiB +0 +0 / 0 B +0 / 0 B\\n.*"), text);
    assertTrue(err.toString(StandardCharsets.UTF_8).contains("step 3/3, 3 verified"));
  }

  @Test
  void aHopThatMovedBytesNeverReadsZeroGigabytesPerSecond() {
    assertEquals("0.000441", DemoCommand.rate(2_132_480, 4_840_000_000L));
    assertEquals("1.50", DemoCommand.rate(1_500_000_000L, 1_000_000_000L));
    assertEquals("-", DemoCommand.rate(0, 5));
  }

  @Test
  void badOptionsExitTwoBeforeStartingAnything() {
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    PrintStream errStream = new PrintStream(err, true, StandardCharsets.UTF_8);
    PrintStream outStream =
        new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8);
    assertEquals(2, Main.run(new String[] {"demo", "--steps", "zero"}, outStream, errStream));
    assertEquals(
        2, Main.run(new String[] {"demo", "--batch", "1", "--train", "2"}, outStream, errStream));
    assertEquals(
        2, Main.run(new String[] {"demo", "--data-plane", "object-store"}, outStream, errStream));
    assertEquals(2, Main.run(new String[] {"demo", "--device", "tpu"}, outStream, errStream));
    assertEquals(
        2,
        Main.run(new String[] {"demo", "--device", "cuda", "--hidden", "0"}, outStream, errStream));
    assertEquals(
        2,
        Main.run(
            new String[] {"demo", "--device", "npu", "--keep-on-device"}, outStream, errStream));
    String text = err.toString(StandardCharsets.UTF_8);
    assertTrue(text.contains("needs --scheduler ray"), text);
    assertTrue(
        text.contains(
            "--keep-on-device hands the hidden states over by CUDA IPC: it needs --device"),
        text);
    assertTrue(
        text.contains("--device cuda moves the hidden states between devices: give --hidden H > 0"),
        text);
  }

  /** The sizes of the device runs: 2 steps of 2 rollout x 2 training workers. */
  private static final String[] SMALL = {"--steps", "2", "--batch", "8", "--seq", "16"};

  /** Hidden states bfloat16 [8, 16, 4] a rollout batch: 1 KiB, two rollout workers, two steps. */
  private static final long HIDDEN_BYTES = 2L * 2 * 8 * 16 * 4 * 2;

  private static String[] demo(String... args) {
    List<String> all = new java.util.ArrayList<>(List.of("demo"));
    all.addAll(List.of(SMALL));
    all.addAll(List.of(args));
    return all.toArray(String[]::new);
  }

  @ParameterizedTest
  @EnumSource(
      value = RuntimeKind.class,
      names = {"CUDA", "ASCEND"})
  void demoOnFakeDevicesMovesTheHiddenStatesDeviceToDeviceAndVerifies(RuntimeKind kind)
      throws Exception {
    String option = kind == RuntimeKind.CUDA ? "cuda" : "npu";
    ChildLauncher.Result run =
        ChildLauncher.run(
            300, DeviceEngine.fakeRuntimeEnv(kind, 4), demo("--hidden", "4", "--device", option));
    assertEquals(0, run.code(), run.toString());
    String text = run.out();
    assertTrue(text.contains(", " + option + " devices, batch 8 x 16 (hidden 4 on"), text);
    assertTrue(text.strip().endsWith("\nverified"), run.toString());
    // Two device-tensor shards a step from each rollout worker (one per training rank).
    assertCopyRow(text, "D2H device -> page-locked store", 8, HIDDEN_BYTES);
    assertCopyRow(text, "H2D fetched -> trainer's device", 8, HIDDEN_BYTES);
    // Every piece's host batch and its hidden states' tensor travel as two shards.
    assertTrue(text.matches("(?s).*\n  rollout -> train \\(fetch \\+ reduce\\) +16 .*"), text);
    assertTrue(
        text.contains(
            "shard stores, fetch caches and workers' Arrow memory empty after every sampled clear"),
        text);
    assertTrue(run.err().contains("step 2/2, 2 verified"), run.err());
    assertFalse(run.err().contains("\tat "), run.err());
  }

  @Test
  void demoKeepingTheHiddenStatesOnTheRolloutGpusHandsThemOverByCudaIpc() throws Exception {
    ChildLauncher.Result run =
        ChildLauncher.run(
            300,
            DeviceEngine.fakeRuntimeEnv(RuntimeKind.CUDA, 4),
            demo("--hidden", "4", "--device", "cuda", "--keep-on-device"));
    assertEquals(0, run.code(), run.toString());
    String text = run.out();
    assertTrue(text.strip().endsWith("\nverified"), run.toString());
    // Nothing went through the host: the trainers copied every byte device to device.
    assertTrue(
        text.matches("(?s).*\n  D2H device -> page-locked store +8 +0 .*"),
        "no device-to-host copy: " + text);
    assertTrue(
        text.matches("(?s).*\n  H2D fetched -> trainer's device +8 +0 .*"),
        "no host-to-device copy: " + text);
    assertCopyRow(text, "D2D kept -> trainer's device (IPC)", 8, HIDDEN_BYTES);
    assertTrue(text.contains("D2H, H2D, D2D: the copies' own time in the workers"), text);
    assertTrue(
        text.contains(
            "shard stores, fetch caches and workers' Arrow memory empty after every sampled clear"),
        text);
  }

  /** The hop's row: its shards and bytes, a time, and a rate that is a positive number. */
  private static void assertCopyRow(String text, String hop, long shards, long bytes) {
    String row =
        text.lines()
            .filter(l -> l.startsWith("  " + hop + " "))
            .findFirst()
            .orElseThrow(() -> new AssertionError("no row '" + hop + "' in\n" + text));
    String[] fields = row.substring(2 + hop.length()).trim().split(" +");
    assertEquals(5, fields.length, row);
    assertEquals(shards, Long.parseLong(fields[0]), row);
    assertEquals(bytes, Long.parseLong(fields[1]), row);
    assertTrue(Double.parseDouble(fields[2]) >= 0, row);
    assertTrue(Double.parseDouble(fields[3]) >= 0, row);
    assertTrue(Double.parseDouble(fields[4]) > 0, "a hop that moved bytes has a rate: " + row);
  }

  @Test
  void aDeviceRunWithoutItsRuntimeOrEnoughDevicesIsAUsageErrorBeforeAnyWorkerStarts(
      @TempDir Path dir) throws Exception {
    Map<String, String> missing = new HashMap<>(DeviceEngine.fakeRuntimeEnv(RuntimeKind.CUDA, 4));
    missing.put(RuntimeKind.CUDA.libraryEnvironment(), dir.resolve("libcuda.so.1").toString());
    ChildLauncher.Result noRuntime =
        ChildLauncher.run(120, missing, demo("--hidden", "4", "--device", "cuda"));
    assertEquals(2, noRuntime.code(), noRuntime.toString());
    assertTrue(
        noRuntime
            .err()
            .startsWith(
                "rtensor demo: --device cuda needs the CUDA runtime, which does not load here"
                    + " (LIBRARY_NOT_FOUND: "),
        noRuntime.toString());
    assertTrue(noRuntime.err().contains("set RTENSOR_CUDA_LIBRARY to its library file"));
    assertTrue(noRuntime.err().contains("usage: "), noRuntime.toString());
    assertFalse(noRuntime.err().contains("\tat "), noRuntime.toString());
    assertFalse(noRuntime.out().contains("workers up"), noRuntime.toString());

    ChildLauncher.Result tooFew =
        ChildLauncher.run(
            120,
            DeviceEngine.fakeRuntimeEnv(RuntimeKind.ASCEND, 3),
            demo("--hidden", "4", "--device", "npu"));
    assertEquals(2, tooFew.code(), tooFew.toString());
    assertTrue(
        tooFew
            .err()
            .startsWith(
                "rtensor demo: --device npu: 2 rollout and 2 training workers take one ASCEND device"
                    + " each, and this machine shows 3 (lower --rollout / --train)"),
        tooFew.toString());
    assertFalse(tooFew.err().contains("\tat "), tooFew.toString());
  }

  @Tag("ray")
  @Test
  void demoOnRayWithTheObjectStoreVerifiesEveryStepAndKeepsStderrFreeOfLogNoise() throws Exception {
    RayTestCluster.connect(); // fails under CI, skips elsewhere, when no head is running
    ChildLauncher.Result run =
        ChildLauncher.run(
            300, "demo", "--scheduler", "ray", "--steps", "2", "--batch", "8", "--seq", "16");
    assertEquals(0, run.code(), run.toString());
    assertTrue(run.out().contains("object-store data plane"), run.toString());
    assertTrue(run.out().contains("\nverified"), run.toString());
    assertTrue(
        run.out().contains("workers' Arrow memory empty after every sampled clear"),
        run.toString());
    // Only the progress line by default: no SLF4J complaint, no INFO from Ray's native client.
    assertFalse(run.err().contains("SLF4J"), run.err());
    assertFalse(run.err().contains("gcs_client"), run.err());
    assertFalse(run.err().lines().anyMatch(l -> l.matches("^\\[[0-9-]+ [0-9:,]+ I .*")), run.err());
    assertTrue(run.err().contains("step 2/2, 2 verified"), run.err());
  }

  @Tag("ray")
  @ParameterizedTest
  @EnumSource(
      value = DataPlaneKind.class,
      names = {"RAY_OBJECT_STORE", "FLIGHT"})
  void demoOnRayWithFakeGpusMovesTheHiddenStatesDeviceToDevice(DataPlaneKind plane)
      throws Exception {
    RayTestCluster.connect(); // fails under CI, skips elsewhere, when no head is running
    boolean flight = plane == DataPlaneKind.FLIGHT;
    ChildLauncher.Result run =
        ChildLauncher.run(
            300,
            DeviceEngine.fakeRuntimeEnv(RuntimeKind.CUDA, 8),
            demo(
                "--scheduler",
                "ray",
                "--data-plane",
                flight ? "flight" : "object-store",
                "--hidden",
                "4",
                "--device",
                "cuda"));
    assertEquals(0, run.code(), run.toString());
    assertTrue(
        run.out().contains((flight ? "flight" : "object-store") + " data plane, cuda devices"),
        run.toString());
    assertTrue(run.out().contains("\nverified"), run.toString());
    assertCopyRow(
        run.out(),
        flight ? "D2H device -> page-locked store" : "D2H device -> object store",
        8,
        HIDDEN_BYTES);
    assertCopyRow(run.out(), "H2D fetched -> trainer's device", 8, HIDDEN_BYTES);
  }
}
