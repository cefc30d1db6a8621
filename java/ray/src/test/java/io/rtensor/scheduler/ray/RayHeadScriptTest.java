package io.rtensor.scheduler.ray;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rtensor.testing.RayTestCluster;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** scripts/ray-head refuses bad starts with a message and leaves no process behind. */
@Tag("ray")
class RayHeadScriptTest {
  private static final Path SCRIPT =
      Path.of(System.getProperty("rtensor.root", "..")).resolve("scripts/ray-head");

  private record Run(int code, String output) {}

  private static Run run(String... args) throws IOException, InterruptedException {
    return runScript(SCRIPT, args);
  }

  private static Run runScript(Path script, String... args)
      throws IOException, InterruptedException {
    List<String> command = new java.util.ArrayList<>(List.of("bash", script.toString()));
    command.addAll(List.of(args));
    Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
    String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(process.waitFor(120, TimeUnit.SECONDS), "the script finished");
    return new Run(process.exitValue(), output);
  }

  @Test
  void secondStartWhileTheHeadRunsIsRefusedAndTheHeadKeepsRunning() throws Exception {
    RayTestCluster.connect();
    Run second = run("start", "--port", "auto");
    assertEquals(1, second.code(), second.output());
    assertTrue(second.output().contains("already running"), second.output());
    Run status = run("status");
    assertEquals(0, status.code(), status.output());
    assertTrue(status.output().startsWith("running at"), status.output());
  }

  @Test
  void takenPortIsRefusedWithAMessageAndNothingStarts(@TempDir Path checkout) throws Exception {
    // A second checkout of the script has its own state, so the port check is what refuses it.
    Path script = checkout.resolve("scripts/ray-head");
    Files.createDirectories(script.getParent());
    Files.copy(SCRIPT, script);
    Files.copy(SCRIPT.getParent().getParent().resolve("pom.xml"), checkout.resolve("pom.xml"));
    try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getByName("0.0.0.0"))) {
      Run run = runScript(script, "start", "--port", Integer.toString(taken.getLocalPort()));
      assertEquals(1, run.code(), run.output());
      assertTrue(
          run.output().contains("port " + taken.getLocalPort() + " is already in use"),
          run.output());
    }
    assertEquals(3, runScript(script, "status").code(), "no head was left running");
    assertTrue(!Files.exists(checkout.resolve(".rtensor/ray/leader.pid")));
  }

  @Test
  void invalidArgumentsAreRefusedBeforeAnythingStarts() throws Exception {
    Run run = run("start", "--num-gpus", "many");
    assertEquals(1, run.code(), run.output());
    assertTrue(run.output().contains("non-negative integers"), run.output());
    Run unknown = run("start", "--bogus");
    assertEquals(2, unknown.code(), unknown.output());
  }
}
