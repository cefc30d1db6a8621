package io.rtensor.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rtensor.testing.RayTestCluster;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

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
    assertTrue(err.toString(StandardCharsets.UTF_8).contains("needs --scheduler ray"));
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
}
