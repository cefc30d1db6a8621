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
 * The project's Python (with pyarrow, numpy and ray) for interop tests: {@code RTENSOR_PYTHON} (set
 * by {@code scripts/ray-head env}), else {@code <rtensor.root>/.rtensor/venv/bin/python}. Without
 * one the test is skipped, or fails when {@code CI} is set.
 */
public final class TestPython {
  private TestPython() {}

  /** Output and exit status of a finished script. */
  public record Result(int exitCode, String output) {}

  /** The Python to use. */
  public static Path python() {
    String configured = System.getenv("RTENSOR_PYTHON");
    if (configured != null && !configured.isBlank()) {
      return Path.of(configured);
    }
    Path venv =
        Path.of(System.getProperty("rtensor.root", "."), ".rtensor", "venv", "bin", "python");
    if (Files.isExecutable(venv)) {
      return venv;
    }
    String why = "no Python for interop tests: set RTENSOR_PYTHON or create " + venv;
    if (System.getenv("CI") != null) {
      fail(why);
    }
    Assumptions.abort(why);
    throw new AssertionError("unreachable");
  }

  /** A script under {@code java/src/test/resources/python}. */
  public static Path script(String name) {
    return Path.of(System.getProperty("rtensor.root", "."), "java", "src", "test", "resources")
        .resolve("python")
        .resolve(name);
  }

  /** Runs {@code python script args...} with extra environment variables. */
  public static Result run(
      Path script, Map<String, String> env, long timeoutSeconds, String... args)
      throws IOException, InterruptedException {
    List<String> cmd = new ArrayList<>();
    cmd.add(python().toString());
    cmd.add(script.toString());
    cmd.addAll(List.of(args));
    Path log = Files.createTempFile("rtensor-python", ".log");
    try {
      ProcessBuilder pb =
          new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
      pb.environment().putAll(env);
      Process p = pb.start();
      if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
        p.destroyForcibly().waitFor();
        return new Result(-1, "timed out: " + Files.readString(log, StandardCharsets.UTF_8));
      }
      return new Result(p.exitValue(), Files.readString(log, StandardCharsets.UTF_8));
    } finally {
      Files.deleteIfExists(log);
    }
  }
}
