package io.rtensor.cli;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rtensor.runtime.JvmFlags;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * {@code ./rtensor ARGS} in a JVM of its own, as the launcher starts it (the project's JVM flags,
 * this test's class path): for commands that connect to Ray (one connection per JVM) and for what
 * only a fresh JVM shows (what its stderr carries from the start).
 */
final class ChildLauncher {
  /** What a run printed: stdout and stderr apart. */
  record Result(int code, String out, String err) {
    @Override
    public String toString() {
      return "exit " + code + "\n--- stdout\n" + out + "--- stderr\n" + err;
    }
  }

  private ChildLauncher() {}

  static Result run(long timeoutSeconds, String... args) throws Exception {
    return run(timeoutSeconds, Map.of(), args);
  }

  /** As {@link #run(long, String...)}, with {@code env} added to this JVM's environment. */
  static Result run(long timeoutSeconds, Map<String, String> env, String... args) throws Exception {
    List<String> command = new ArrayList<>();
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    command.addAll(JvmFlags.list());
    command.add("-cp");
    command.add(System.getProperty("java.class.path"));
    command.add(Main.class.getName());
    command.addAll(List.of(args));
    File out = File.createTempFile("rtensor-child-", ".out");
    File err = File.createTempFile("rtensor-child-", ".err");
    try {
      ProcessBuilder builder =
          new ProcessBuilder(command)
              .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
              .redirectOutput(out)
              .redirectError(err);
      builder.environment().putAll(env);
      Process process = builder.start();
      boolean exited = process.waitFor(timeoutSeconds, TimeUnit.SECONDS);
      if (!exited) {
        process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
      Result result =
          new Result(
              exited ? process.exitValue() : -1,
              Files.readString(out.toPath(), StandardCharsets.UTF_8),
              Files.readString(err.toPath(), StandardCharsets.UTF_8));
      assertTrue(exited, "still running after " + timeoutSeconds + " s: " + result);
      return result;
    } finally {
      Files.deleteIfExists(out.toPath());
      Files.deleteIfExists(err.toPath());
    }
  }
}
