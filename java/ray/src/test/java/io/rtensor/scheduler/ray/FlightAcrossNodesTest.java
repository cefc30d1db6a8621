package io.rtensor.scheduler.ray;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rtensor.handle.RTensor;
import io.rtensor.handle.ShardLocation;
import io.rtensor.runtime.HostPort;
import io.rtensor.runtime.JvmFlags;
import io.rtensor.runtime.SessionSecret;
import io.rtensor.scheduler.CallOptions;
import io.rtensor.scheduler.Job;
import io.rtensor.scheduler.PlacementStrategy;
import io.rtensor.scheduler.SchedulingSpec;
import io.rtensor.scheduler.Worker;
import io.rtensor.tensor.Tensor;
import io.rtensor.tensor.TensorBatch;
import io.rtensor.testing.NodeEngine;
import io.rtensor.testing.RayTestCluster;
import io.rtensor.testing.engines.TensorEngine;
import io.rtensor.transport.DataPlaneKind;
import io.rtensor.transport.DataPlaneTlsException;
import io.rtensor.transport.FlightDataPlane;
import io.rtensor.transport.FlightTlsMode;
import java.io.IOException;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.arrow.memory.RootAllocator;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The Flight data plane across the two nodes {@code scripts/test} starts (a head at 127.0.0.1, a
 * second raylet at 127.0.0.2): a worker's store binds and advertises its own node's IP, a worker on
 * the other node fetches from it, and a controller whose driver runs on the second node works with
 * the documented settings.
 */
@Tag("ray")
class FlightAcrossNodesTest {
  private static final CallOptions QUICK =
      CallOptions.DEFAULT.withTimeout(Duration.ofSeconds(120)).withMaxRetries(0);

  private static RayScheduler scheduler;
  private static String head;
  private static String second;

  @BeforeAll
  static void start() {
    RayTestCluster.connect();
    head = RayTestCluster.HEAD_IP;
    second = RayTestCluster.secondNodeIp();
    scheduler =
        RayScheduler.builder()
            .dataPlane(DataPlaneKind.FLIGHT)
            .nGpusPerNode(4)
            .startupTimeout(Duration.ofSeconds(240))
            .build();
  }

  @AfterEach
  void deleteRoles() {
    if (scheduler != null) {
      scheduler.deleteWorkers(null, true);
    }
  }

  @AfterAll
  static void stop() {
    if (scheduler != null) {
      scheduler.close();
    }
  }

  /** A job of one worker on each of the two nodes: a node's 4 GPUs each, in their own groups. */
  static Job oneOnEachNode(String role) {
    return Job.builder(role)
        .replicas(2)
        .task(
            SchedulingSpec.builder().cpu(0.5).gpu(4).placement(PlacementStrategy.SEPARATE).build())
        .build();
  }

  /**
   * {@link #oneOnEachNode} on {@code on}, each worker with a {@link NodeEngine} ("node") and a
   * {@link TensorEngine} ("tensor"): worker ids keyed by their node's IP.
   */
  private static Map<String, String> oneWorkerPerNode(RayScheduler on, String role) {
    Map<String, String> byNode = new HashMap<>();
    for (Worker w : on.createWorkers(oneOnEachNode(role))) {
      on.createEngine(w.id(), NodeEngine.class.getName(), "node");
      on.createEngine(w.id(), TensorEngine.class.getName(), "tensor");
      String nodeId = (String) on.callEngine(w.id(), "nodeId", "node", QUICK);
      byNode.put(RayTestCluster.nodeIp(nodeId), w.id());
    }
    assertEquals(2, byNode.size(), "one worker on each node: " + byNode);
    return byNode;
  }

  private static long expectedTokens(int rows) {
    // tokens[r][c] = r * 10 + c
    return 40L * rows * (rows - 1) / 2 + 6L * rows;
  }

  /** Whether anything accepts TCP connections at {@code host:port}. */
  private static boolean listening(String host, int port) throws IOException {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress(host, port), 2000);
      return true;
    } catch (ConnectException e) {
      return false;
    }
  }

  @Test
  void aShardStoredOnOneNodeIsFetchedByAWorkerOnTheOtherFromTheStoreOnItsNodeIp()
      throws IOException {
    Map<String, String> byNode = oneWorkerPerNode(scheduler, "pair");
    int rows = 4096;
    for (String[] hop : new String[][] {{second, head}, {head, second}}) {
      String producer = byNode.get(hop[0]);
      String consumer = byNode.get(hop[1]);
      RTensor batch = (RTensor) scheduler.callEngine(producer, "produce", "tensor", QUICK, rows);
      assertEquals(ShardLocation.Plane.FLIGHT, batch.location().plane());
      HostPort store = HostPort.parse(batch.location().key());
      assertEquals(
          hop[0], store.host(), "the store advertises its own node's IP: " + batch.location());
      String other = hop[0].equals(head) ? second : head;
      assertTrue(listening(store.host(), store.port()), "the store listens where it says");
      // Bound to its node's IP only: not a wildcard, so the same port on the other IP is closed.
      assertTrue(
          !listening(other, store.port()),
          "the store at " + store + " also answers on " + other + ": it bound a wildcard");

      assertEquals(
          expectedTokens(rows),
          scheduler.callEngine(consumer, "sumTokens", "tensor", QUICK, batch),
          hop[0] + " -> " + hop[1]);
      // And into the controller (on the head) through its own plane.
      try (TensorBatch local = (TensorBatch) scheduler.dataPlane().localize(batch)) {
        long sum = 0;
        for (long v : local.tensor("tokens").toLongArray()) {
          sum += v;
        }
        assertEquals(expectedTokens(rows), sum);
      }
      assertEquals(1L, scheduler.clearShards(batch));
    }
  }

  @Test
  void theControllerServesWhatItRemotizesFromItsOwnNodeIpToAWorkerOnTheOtherNode() {
    Map<String, String> byNode = oneWorkerPerNode(scheduler, "ctl");
    Object remote;
    try (RootAllocator root = new RootAllocator();
        Tensor t = Tensor.of(root, new int[] {1, 2, 3, 4, 5})) {
      remote = scheduler.dataPlane().remotize(t);
    }
    assertEquals(
        head,
        HostPort.parse(((RTensor) remote).location().key()).host(),
        "this test's driver runs on the head node: " + remote);
    assertEquals(15L, scheduler.callEngine(byNode.get(second), "sumInts", "tensor", QUICK, remote));
    assertEquals(1L, scheduler.clearShards(remote));
  }

  @Test
  void withTlsOnWorkersOnBothNodesAndTheControllerFetchOverTlsAndRefusePlaintext()
      throws Exception {
    try (RayScheduler tls =
        RayScheduler.builder()
            .dataPlane(DataPlaneKind.FLIGHT)
            .flightTls(FlightTlsMode.ON)
            .nGpusPerNode(4)
            .startupTimeout(Duration.ofSeconds(240))
            .build()) {
      Map<String, String> byNode = oneWorkerPerNode(tls, "tls");
      RTensor batch = (RTensor) tls.callEngine(byNode.get(second), "produce", "tensor", QUICK, 512);
      assertEquals(second, HostPort.parse(batch.location().key()).host());
      assertEquals(
          expectedTokens(512),
          tls.callEngine(byNode.get(head), "sumTokens", "tensor", QUICK, batch),
          "second -> head over TLS");
      Object remote;
      try (RootAllocator root = new RootAllocator();
          Tensor t = Tensor.of(root, new int[] {4, 5, 6})) {
        remote = tls.dataPlane().remotize(t);
      }
      assertEquals(
          15L,
          tls.callEngine(byNode.get(second), "sumInts", "tensor", QUICK, remote),
          "controller on the head -> second over TLS");
      try (TensorBatch local = (TensorBatch) tls.dataPlane().localize(batch)) {
        assertEquals(512, local.rows());
      }
      // Neither the worker's store nor the controller's speaks plaintext.
      try (RootAllocator root = new RootAllocator();
          FlightDataPlane plaintext =
              FlightDataPlane.builder(root, SessionSecret.generate().value()).build()) {
        assertThrows(DataPlaneTlsException.class, () -> plaintext.fetch(List.of(batch), root));
        assertThrows(
            DataPlaneTlsException.class, () -> plaintext.fetch(List.of((RTensor) remote), root));
      }
      assertEquals(2L, tls.clearShards(List.of(batch, remote)));
    }
  }

  /**
   * A driver on the second node, told so by {@code RTENSOR_RAY_NODE_IP} ("setting") or by default
   * from the node IP its raylet recorded in Ray's session directory ("session-record": a temporary
   * directory whose record names the second node, as a machine whose only raylet is that node's has
   * it).
   */
  @ParameterizedTest
  @ValueSource(strings = {"setting", "session-record"})
  void aControllerWhoseDriverRunsOnTheSecondNodeWorks(String how, @TempDir Path dir)
      throws Exception {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.addAll(JvmFlags.list());
    cmd.add("-Drtensor.root=" + System.getProperty("rtensor.root", "."));
    cmd.addAll(
        List.of("-cp", System.getProperty("java.class.path"), SecondNodeDriver.class.getName()));
    Path out = dir.resolve("driver.out");
    ProcessBuilder pb =
        new ProcessBuilder(cmd)
            .redirectOutput(out.toFile())
            .redirectError(dir.resolve("driver.err").toFile());
    pb.environment().put("RTENSOR_RAY_ADDRESS", RayTestCluster.connect().address());
    pb.environment().remove("RTENSOR_RAY_NODE_IP");
    if (how.equals("setting")) {
      pb.environment().put("RTENSOR_RAY_NODE_IP", second);
    } else {
      Path session = Files.createDirectories(dir.resolve("ray").resolve("session_latest"));
      Files.writeString(
          session.resolve("node_ip_address.json"), "{\"node_ip_address\": \"" + second + "\"}");
      pb.environment().put("RTENSOR_RAY_TEMP_DIR", dir.resolve("ray").toString());
    }
    Process driver = pb.start();
    try {
      if (!driver.waitFor(300, TimeUnit.SECONDS)) {
        throw new AssertionError(
            "the second-node driver did not finish in 300 s; it printed: " + Files.readString(out));
      }
    } finally {
      driver.descendants().forEach(ProcessHandle::destroyForcibly);
      driver.destroyForcibly();
    }
    String printed = Files.readString(out, StandardCharsets.UTF_8);
    String errors = Files.readString(dir.resolve("driver.err"), StandardCharsets.UTF_8);
    assertEquals(0, driver.exitValue(), "driver output:\n" + printed + "\nstderr:\n" + errors);
    List<String> lines = printed.lines().toList();
    assertTrue(lines.contains("driver-node=" + second), "Ray connected it through " + lines);
    String store =
        lines.stream()
            .filter(l -> l.startsWith("controller-store="))
            .findFirst()
            .orElseThrow(() -> new AssertionError(printed));
    assertEquals(
        second,
        HostPort.parse(store.substring("controller-store=".length())).host(),
        "its own store is on its node's IP, not the head's: " + store);
    List<String> sums = lines.stream().filter(l -> l.startsWith("worker=")).sorted().toList();
    assertEquals(
        List.of(
            "worker=" + head + " sum=1498500 expected=1498500",
            "worker=" + second + " sum=1498500 expected=1498500"),
        sums);
    assertTrue(lines.contains("done"), printed);
  }
}
