package io.rtensor.testing;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/**
 * Finds the Python that interop tests run (one with pyarrow and numpy) and runs scripts with it.
 *
 * <p>Lookup order: system property {@code rtensor.python}, environment variable {@code
 * RTENSOR_PYTHON}, then {@code <rtensor.root>/.rtensor/venv/bin/python} (Surefire sets {@code
 * rtensor.root} to the repository root). If none exists the test is skipped with the reason, or
 * fails when the environment variable {@code CI} is set, since CI must run it.
 */
public final class PythonEnv {
  private PythonEnv() {}

  /** The Python to use; skips or fails the calling test if there is none. */
  public static Path python() {
    String configured = System.getProperty("rtensor.python");
    String source = "system property rtensor.python";
    if (configured == null || configured.isBlank()) {
      configured = System.getenv("RTENSOR_PYTHON");
      source = "environment variable RTENSOR_PYTHON";
    }
    if (configured != null && !configured.isBlank()) {
      Path p = Path.of(configured);
      if (!Files.isExecutable(p)) {
        fail(source + " names " + p + ", which is not an executable file");
      }
      return p;
    }
    String root = System.getProperty("rtensor.root");
    Path venv = root == null ? null : Path.of(root, ".rtensor", "venv", "bin", "python");
    if (venv != null && Files.isExecutable(venv)) {
      return venv;
    }
    String why =
        "no Python for interop tests: set -Drtensor.python=... or RTENSOR_PYTHON to a Python with"
            + " pyarrow and numpy, or create the project venv at "
            + (venv == null ? "<repo root>/.rtensor/venv" : venv.getParent().getParent())
            + " (the project's setup script does; by hand: python3 -m venv .rtensor/venv &&"
            + " .rtensor/venv/bin/pip install pyarrow numpy)";
    if (System.getenv("CI") != null) {
      fail(why + " [CI is set, so this test must run]");
    }
    System.out.println("SKIPPED: " + why);
    Assumptions.abort(why);
    throw new AssertionError("unreachable");
  }

  /** Output and exit status of a finished script. */
  public record Result(int exitCode, String output) {}

  /**
   * Runs {@code python script args...}, waits at most {@code timeoutSeconds}, and returns its exit
   * status with stdout and stderr together.
   */
  public static Result run(Path script, long timeoutSeconds, String... args)
      throws IOException, InterruptedException {
    return run(script, Map.of(), timeoutSeconds, args);
  }

  /** {@link #run(Path, long, String...)} with extra environment variables. */
  public static Result run(
      Path script, Map<String, String> env, long timeoutSeconds, String... args)
      throws IOException, InterruptedException {
    List<String> cmd = new ArrayList<>();
    cmd.add(python().toString());
    cmd.add(script.toString());
    cmd.addAll(List.of(args));
    Path log = Files.createTempFile("rtensor-python", ".log");
    try {
      ProcessBuilder builder =
          new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
      builder.environment().putAll(env);
      Process p = builder.start();
      if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
        p.destroyForcibly().waitFor();
        return new Result(-1, "timed out after " + timeoutSeconds + " s: " + read(log));
      }
      return new Result(p.exitValue(), read(log));
    } finally {
      Files.deleteIfExists(log);
    }
  }

  private static String read(Path log) throws IOException {
    return Files.readString(log, StandardCharsets.UTF_8);
  }
}
