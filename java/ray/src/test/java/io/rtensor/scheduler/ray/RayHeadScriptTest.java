package io.rtensor.scheduler.ray;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rtensor.testing.RayHeadScript;
import io.rtensor.testing.RayTestCluster;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
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
    Run counts = run("start", "--nodes", "2", "--gpus-per-node", "4,2,1");
    assertEquals(1, counts.code(), counts.output());
    assertTrue(counts.output().contains("one count or one per node (2)"), counts.output());
    Run nodes = run("start", "--nodes", "9");
    assertEquals(1, nodes.code(), nodes.output());
    Run head = run("kill-node", "1");
    assertEquals(1, head.code(), head.output());
    assertTrue(head.output().contains("the head is node 1"), head.output());
  }

  @Test
  void twoUnequalNodesRunOnTheirOwnLoopbackAddressesAndStopLeavingNothing(@TempDir Path checkout)
      throws Exception {
    // A second checkout has its own state and temp dir: a cluster of its own beside the tests'.
    Path script = checkout.resolve("scripts/ray-head");
    Files.createDirectories(script.getParent());
    Files.copy(SCRIPT, script);
    Files.copy(SCRIPT.getParent().getParent().resolve("pom.xml"), checkout.resolve("pom.xml"));
    Map<String, String> env =
        Map.of(
            "RTENSOR_VENV",
            SCRIPT.getParent().getParent().resolve(".rtensor/venv").toAbsolutePath().toString());
    RayHeadScript.Run start =
        RayHeadScript.run(
            script,
            env,
            "start",
            "--nodes",
            "2",
            "--gpus-per-node",
            "4,2",
            "--num-cpus",
            "2",
            "--object-store-mb",
            "256",
            "--port",
            "auto");
    String tempDir = null;
    try {
      assertEquals(0, start.code(), start.output());
      RayHeadScript.Run variables = RayHeadScript.run(script, env, "env");
      assertEquals(0, variables.code(), variables.output());
      for (String expected :
          List.of(
              "RTENSOR_RAY_NODES=2",
              "RTENSOR_RAY_NODE_IPS=127.0.0.1,127.0.0.2",
              "RTENSOR_RAY_GPUS_PER_NODE=4,2",
              "RTENSOR_RAY_SECOND_NODE_IP=127.0.0.2",
              "RTENSOR_RAY_ADDRESS=" + start.output().strip())) {
        assertTrue(variables.output().contains(expected + "\n"), variables.output());
      }
      tempDir =
          variables
              .output()
              .lines()
              .filter(l -> l.startsWith("RTENSOR_RAY_TEMP_DIR="))
              .findFirst()
              .orElseThrow()
              .substring("RTENSOR_RAY_TEMP_DIR=".length());

      RayHeadScript.Run status = RayHeadScript.run(script, env, "status");
      assertEquals(0, status.code(), status.output());
      assertTrue(
          status
              .output()
              .lines()
              .anyMatch(l -> l.startsWith("  node 1 127.0.0.1 ALIVE") && l.contains("GPU=4,")),
          status.output());
      assertTrue(
          status
              .output()
              .lines()
              .anyMatch(l -> l.startsWith("  node 2 127.0.0.2 ALIVE") && l.contains("GPU=2,")),
          status.output());

      RayHeadScript.Run kill = RayHeadScript.run(script, env, "kill-node", "2");
      assertEquals(0, kill.code(), kill.output());
      assertEquals(List.of(), processesNaming(tempDir + "/node2/"), "node 2 has no process left");
      RayHeadScript.Run down = RayHeadScript.run(script, env, "status");
      assertEquals(4, down.code(), down.output());
      assertTrue(down.output().contains("node 2 127.0.0.2 DOWN"), down.output());
      RayHeadScript.Run again = RayHeadScript.run(script, env, "start-node", "2");
      assertEquals(0, again.code(), again.output());
      assertEquals(0, RayHeadScript.run(script, env, "status").code());
    } finally {
      RayHeadScript.Run stop = RayHeadScript.run(script, env, "stop");
      assertEquals(0, stop.code(), stop.output());
      assertTrue(stop.output().contains("stopped 2 nodes"), stop.output());
    }
    assertEquals(List.of(), processesNaming(tempDir + "/"), "nothing of the cluster is left");
    assertEquals(3, RayHeadScript.run(script, env, "status").code());
  }

  /** Processes whose command line contains {@code text}. */
  private static List<String> processesNaming(String text) throws IOException {
    List<String> found = new ArrayList<>();
    try (Stream<Path> procs = Files.list(Path.of("/proc"))) {
      for (Path p : procs.filter(p -> p.getFileName().toString().matches("\\d+")).toList()) {
        try {
          String cmdline =
              new String(Files.readAllBytes(p.resolve("cmdline")), StandardCharsets.UTF_8)
                  .replace('\0', ' ');
          if (cmdline.contains(text)) {
            found.add(p.getFileName() + " " + cmdline);
          }
        } catch (IOException gone) {
          // the process ended while we looked
        }
      }
    }
    return found;
  }
}
