package io.rtensor.testing;

import static org.junit.jupiter.api.Assertions.fail;

import io.ray.api.Ray;
import io.ray.api.runtimecontext.NodeInfo;
import io.rtensor.scheduler.ray.RayConnection;
import java.io.File;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Assumptions;

/**
 * The test JVM's one connection to the Ray head that {@code scripts/ray-head start} runs.
 *
 * <p>Without an address the Ray tests fail under CI (the {@code CI} variable is set) and skip with
 * a printed reason elsewhere; so do the tests that need more nodes than the cluster has ({@link
 * #requireNodes}).
 */
public final class RayTestCluster {
  private static RayConnection connection;

  private RayTestCluster() {}

  /** Connects once per JVM; the connection closes when the JVM exits. */
  public static synchronized RayConnection connect() {
    if (connection != null) {
      return connection;
    }
    String address =
        System.getProperty("rtensor.ray.address", System.getenv("RTENSOR_RAY_ADDRESS"));
    if (address == null || address.isBlank()) {
      String reason =
          "no Ray head: RTENSOR_RAY_ADDRESS is not set (run scripts/test, or scripts/ray-head start"
              + " and export the variables of scripts/ray-head env)";
      if (System.getenv("CI") != null) {
        fail(reason);
      }
      System.out.println("[ray tests] skipped: " + reason);
      Assumptions.abort(reason);
    }
    connection =
        RayConnection.builder().address(address).codeSearchPath(codeSearchPath()).connect();
    Runtime.getRuntime().addShutdownHook(new Thread(connection::close, "ray-test-shutdown"));
    return connection;
  }

  /** The nodes the GCS lists alive. */
  public static List<NodeInfo> aliveNodes() {
    connect();
    return Ray.getRuntimeContext().getAllNodeInfo().stream().filter(n -> n.isAlive).toList();
  }

  /**
   * Requires {@code n} alive nodes ({@code scripts/test} starts two): fails under CI, skips with a
   * printed reason elsewhere.
   */
  public static void requireNodes(int n) {
    List<NodeInfo> alive = aliveNodes();
    if (alive.size() >= n) {
      return;
    }
    String reason =
        "the Ray cluster has "
            + alive.size()
            + " alive node(s), the test needs "
            + n
            + " (scripts/test starts two; by hand: scripts/ray-head start --nodes "
            + n
            + ")";
    if (System.getenv("CI") != null) {
      fail(reason);
    }
    System.out.println("[ray tests] skipped: " + reason);
    Assumptions.abort(reason);
  }

  /** The head node's IP in the cluster {@code scripts/ray-head} starts. */
  public static final String HEAD_IP = "127.0.0.1";

  /**
   * The IP of an alive node other than the head's; requires two nodes first ({@link
   * #requireNodes}).
   */
  public static String secondNodeIp() {
    requireNodes(2);
    return aliveNodes().stream()
        .map(n -> n.nodeAddress)
        .filter(ip -> !ip.equals(HEAD_IP))
        .findFirst()
        .orElseThrow();
  }

  /** The IP of the alive node with this id (hex), as the GCS lists it. */
  public static String nodeIp(String nodeId) {
    return aliveNodes().stream()
        .filter(n -> n.nodeId.toString().equals(nodeId))
        .map(n -> n.nodeAddress)
        .findFirst()
        .orElseThrow(() -> new AssertionError("no alive node " + nodeId + ": " + aliveNodes()));
  }

  /** Waits until the GCS lists exactly {@code n} alive nodes; fails after {@code timeout}. */
  public static List<NodeInfo> awaitAliveNodes(int n, Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    List<NodeInfo> alive = aliveNodes();
    while (alive.size() != n) {
      if (System.nanoTime() > deadline) {
        fail("the GCS lists " + alive.size() + " alive nodes, not " + n + ": " + alive);
      }
      try {
        Thread.sleep(200);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new AssertionError(e);
      }
      alive = aliveNodes();
    }
    return alive;
  }

  /**
   * This JVM's class path plus the tests' Python modules: Ray makes the job's code search path the
   * Python workers' {@code sys.path} too, so Java tests can call Python functions.
   */
  public static List<String> codeSearchPath() {
    List<String> entries = new ArrayList<>();
    for (String entry : System.getProperty("java.class.path", "").split(File.pathSeparator)) {
      if (!entry.isBlank() && !entry.contains("surefire") && new File(entry).exists()) {
        entries.add(new File(entry).getAbsolutePath());
      }
    }
    Path python =
        Path.of(
            System.getProperty("rtensor.root", "."),
            "java",
            "ray",
            "src",
            "test",
            "resources",
            "python");
    entries.add(python.toAbsolutePath().normalize().toString());
    return entries;
  }
}
