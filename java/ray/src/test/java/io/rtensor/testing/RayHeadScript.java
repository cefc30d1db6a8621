package io.rtensor.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** Runs this checkout's {@code scripts/ray-head}, which owns the test cluster's processes. */
public final class RayHeadScript {
  /** The script of the checkout under test. */
  public static final Path SCRIPT =
      Path.of(System.getProperty("rtensor.root", "..")).resolve("scripts/ray-head");

  private RayHeadScript() {}

  /** Its exit code and output (stdout and stderr together). */
  public record Run(int code, String output) {}

  /** Runs {@code script} with {@code args} and extra environment; waits at most 3 minutes. */
  public static Run run(Path script, Map<String, String> env, String... args) {
    List<String> command = new ArrayList<>(List.of("bash", script.toString()));
    command.addAll(List.of(args));
    ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
    builder.environment().putAll(env);
    try {
      Process process = builder.start();
      String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      assertTrue(process.waitFor(180, TimeUnit.SECONDS), "the script finished");
      return new Run(process.exitValue(), output);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError(e);
    }
  }

  /** Runs this checkout's script. */
  public static Run run(String... args) {
    return run(SCRIPT, Map.of(), args);
  }

  /** Runs this checkout's script and fails the test unless it exits 0; returns its output. */
  public static String runOk(String... args) {
    Run run = run(args);
    assertEquals(
        0, run.code(), () -> "scripts/ray-head " + String.join(" ", args) + ":\n" + run.output());
    return run.output();
  }
}
