package io.rtensor.scheduler.ray;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ray.api.PlacementGroups;
import io.ray.api.Ray;
import io.ray.api.placementgroup.PlacementGroup;
import io.ray.api.placementgroup.PlacementGroupState;
import io.ray.api.runtimecontext.NodeInfo;
import io.rtensor.scheduler.CallOptions;
import io.rtensor.scheduler.Job;
import io.rtensor.scheduler.PlacementStrategy;
import io.rtensor.scheduler.SchedulingSpec;
import io.rtensor.scheduler.Worker;
import io.rtensor.scheduler.WorkerTimeoutException;
import io.rtensor.testing.NodeEngine;
import io.rtensor.testing.RayHeadScript;
import io.rtensor.testing.RayTestCluster;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Nodes of different sizes: the second node is started again with 2 GPUs (the head keeps 4), and
 * restored to its size afterwards. The scheduler plans with the most GPUs any node has: DEFERRED
 * groups split into bundles of that size and the remainder, which fit a 4-GPU and a 2-GPU node;
 * groups and instances that need a bundle larger than a node's free GPUs do not fit and time out.
 */
@Tag("ray")
class UnequalNodesTest {
  private static final CallOptions QUICK =
      CallOptions.DEFAULT.withTimeout(Duration.ofSeconds(120)).withMaxRetries(0);

  private static String second;
  private static boolean resized;

  @BeforeAll
  static void resizeTheSecondNode() {
    RayTestCluster.connect();
    RayTestCluster.requireNodes(2);
    resized = true;
    RayHeadScript.runOk("stop-node", "2");
    RayHeadScript.runOk("start-node", "2", "--num-gpus", "2");
    List<NodeInfo> nodes = RayTestCluster.awaitAliveNodes(2, Duration.ofSeconds(60));
    Map<String, Double> gpus = gpusByNode(nodes);
    second =
        nodes.stream()
            .map(n -> n.nodeAddress)
            .filter(ip -> !ip.equals("127.0.0.1"))
            .findFirst()
            .orElseThrow();
    assertEquals(Map.of("127.0.0.1", 4.0, second, 2.0), gpus);
  }

  @AfterAll
  static void restoreTheSecondNode() {
    if (!resized) {
      return;
    }
    RayHeadScript.runOk("stop-node", "2");
    RayHeadScript.runOk("start-node", "2");
    assertEquals(
        Map.of("127.0.0.1", 4.0, "127.0.0.2", 4.0),
        gpusByNode(RayTestCluster.awaitAliveNodes(2, Duration.ofSeconds(60))));
  }

  private static Map<String, Double> gpusByNode(List<NodeInfo> nodes) {
    Map<String, Double> gpus = new TreeMap<>();
    nodes.forEach(n -> gpus.put(n.nodeAddress, n.resources.getOrDefault("GPU", 0.0)));
    return gpus;
  }

  private static Job job(String role, int replicas, int gpus, PlacementStrategy placement) {
    return Job.builder(role)
        .replicas(replicas)
        .task(SchedulingSpec.builder().cpu(0.5).gpu(gpus).placement(placement).build())
        .build();
  }

  private static List<Double> gpusOfBundles(RayScheduler scheduler, String role) {
    PlacementGroup group =
        PlacementGroups.getPlacementGroup(
            scheduler.placementGroupNames(role).get(0), Ray.getRuntimeContext().getNamespace());
    return group.getBundles().stream().map(b -> b.get("GPU")).toList();
  }

  private static void assertGroupsRemoved(RayScheduler scheduler) {
    String prefix = "rtensor-" + scheduler.id() + "-";
    for (PlacementGroup group : PlacementGroups.getAllPlacementGroups()) {
      if (group.getName() != null && group.getName().startsWith(prefix)) {
        assertEquals(PlacementGroupState.REMOVED, group.getState(), group.getName());
      }
    }
  }

  @Test
  void gpusPerNodeDefaultsToTheMostAnyNodeHas() {
    try (RayScheduler scheduler = RayScheduler.builder().build()) {
      assertEquals(4, scheduler.nGpusPerNode());
    }
  }

  @Test
  void aDeferredGroupSplitsAtTheLargestNodesSizeAndTheRemainderFillsTheSmallerNode() {
    RayScheduler scheduler = RayScheduler.builder().startupTimeout(Duration.ofSeconds(240)).build();
    try {
      // 3 ranks of 2 GPUs: 6 GPUs at 4 per node make bundles of 4 and 2.
      List<Worker> workers =
          scheduler.createWorkers(job("server", 3, 2, PlacementStrategy.DEFERRED));
      assertEquals(List.of(4.0, 2.0), gpusOfBundles(scheduler, "server"));
      Map<String, String> where = new TreeMap<>();
      for (Worker w : workers) {
        scheduler.createEngine(w.id(), NodeEngine.class.getName(), null);
        where.put(w.id(), (String) scheduler.callEngine(w.id(), "nodeIp", null, QUICK));
      }
      // Ranks 0 and 1 (devices 0-3) are in the 4-GPU bundle, on the 4-GPU head; rank 2 in the
      // 2-GPU bundle, on the 2-GPU node.
      assertEquals(
          Map.of("server/0", "127.0.0.1", "server/1", "127.0.0.1", "server/2", second), where);
    } finally {
      scheduler.close();
    }
    assertGroupsRemoved(scheduler);
  }

  @Test
  void theBundlePlanOfUnequalNodesAssumesEveryNodeHasTheMostGpus() {
    // What the scheduler plans for a DEFERRED job on these nodes (4 and 2 GPUs, default 4 per
    // node):
    // node-sized bundles, the last one the remainder; a rank whose devices straddle two bundles is
    // placed in the bundle of its first device.
    Job straddling = job("s", 2, 3, PlacementStrategy.DEFERRED);
    List<Map<String, Double>> bundles = BundlePlan.groups(straddling, 4).get(0);
    assertEquals(List.of(4.0, 2.0), bundles.stream().map(b -> b.get("GPU")).toList());
    assertEquals(0, RayCluster.bundleOfRank(bundles, straddling, 0));
    assertEquals(0, RayCluster.bundleOfRank(bundles, straddling, 1));
    // 6 GPUs at the 2-GPU node's size make three bundles, two of which the head holds.
    assertEquals(
        List.of(2.0, 2.0, 2.0),
        BundlePlan.groups(job("d", 6, 1, PlacementStrategy.DEFERRED), 2).get(0).stream()
            .map(b -> b.get("GPU"))
            .toList());
  }

  @Test
  void aSeparateInstanceLargerThanTheSmallerNodeFitsOnlyOnceAndTheJobTimesOutLeavingNothing() {
    RayScheduler scheduler = RayScheduler.builder().startupTimeout(Duration.ofSeconds(6)).build();
    try {
      long start = System.nanoTime();
      WorkerTimeoutException e =
          assertThrows(
              WorkerTimeoutException.class,
              () -> scheduler.createWorkers(job("rollout", 2, 3, PlacementStrategy.SEPARATE)));
      assertTrue(
          System.nanoTime() - start < Duration.ofSeconds(60).toNanos(), "within the timeout");
      assertEquals("rollout", e.role());
      assertTrue(scheduler.roles().isEmpty());
    } finally {
      scheduler.close();
    }
    assertGroupsRemoved(scheduler);
  }
}
