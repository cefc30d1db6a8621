package io.rtensor.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rtensor.runtime.JvmFlags;
import io.rtensor.testing.RayTestCluster;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
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
  void demoOnRayWithTheObjectStoreVerifiesEveryStep() throws Exception {
    RayTestCluster.connect(); // fails under CI, skips elsewhere, when no head is running
    List<String> command = new ArrayList<>();
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    command.addAll(JvmFlags.list());
    command.addAll(
        List.of(
            "-cp",
            System.getProperty("java.class.path"),
            Main.class.getName(),
            "demo",
            "--scheduler",
            "ray",
            "--steps",
            "2",
            "--batch",
            "8",
            "--seq",
            "16"));
    Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
    String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(process.waitFor(300, TimeUnit.SECONDS), output);
    assertEquals(0, process.exitValue(), output);
    assertTrue(output.contains("object-store data plane"), output);
    assertTrue(output.contains("\nverified"), output);
    assertTrue(output.contains("workers' Arrow memory empty after every sampled clear"), output);
  }
}
