package io.rtensor.scheduler.ray;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ray.api.ActorHandle;
import io.ray.api.BaseActorHandle;
import io.ray.api.PlacementGroups;
import io.ray.api.Ray;
import io.ray.api.placementgroup.PlacementGroup;
import io.ray.api.placementgroup.PlacementGroupState;
import io.ray.api.runtimecontext.ActorInfo;
import io.rtensor.scheduler.CallOptions;
import io.rtensor.scheduler.DeviceType;
import io.rtensor.scheduler.Job;
import io.rtensor.scheduler.PlacementStrategy;
import io.rtensor.scheduler.SchedulingSpec;
import io.rtensor.scheduler.Worker;
import io.rtensor.tensor.Tensor;
import io.rtensor.testing.NodeEngine;
import io.rtensor.testing.RayTestCluster;
import io.rtensor.testing.ShardActor;
import io.rtensor.transport.Remotizer;
import io.rtensor.transport.ray.RayObjectStorePlane;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.apache.arrow.memory.RootAllocator;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The Ray scheduler and the object-store plane across the two nodes {@code scripts/test} starts: a
 * head at 127.0.0.1 and a second raylet at 127.0.0.2, each with 4 GPUs. Where a worker runs is what
 * its own Ray runtime says, checked against the GCS's node table.
 */
@Tag("ray")
class MultiNodeTest {
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
    for (var node : RayTestCluster.aliveNodes()) {
      assertEquals(
          4.0,
          node.resources.getOrDefault("GPU", 0.0),
          "scripts/test declares 4 GPUs on each node: " + node);
    }
    scheduler =
        RayScheduler.builder().nGpusPerNode(4).startupTimeout(Duration.ofSeconds(240)).build();
  }

  @AfterEach
  void deleteRoles() {
    if (scheduler != null) {
      scheduler.deleteWorkers(null, true);
    }
  }

  @AfterAll
  static void stop() {
    if (scheduler == null) {
      return;
    }
    String prefix = "rtensor-" + scheduler.id() + "-";
    scheduler.close();
    for (PlacementGroup group : PlacementGroups.getAllPlacementGroups()) {
      if (group.getName() != null && group.getName().startsWith(prefix)) {
        assertEquals(PlacementGroupState.REMOVED, group.getState(), group.getName());
      }
    }
  }

  private static Job gpuJob(String role, int replicas, int gpus, PlacementStrategy placement) {
    return Job.builder(role)
        .replicas(replicas)
        .task(SchedulingSpec.builder().cpu(0.5).gpu(gpus).placement(placement).build())
        .build();
  }

  private static Object call(String workerId, String method, Object... args) {
    return scheduler.callEngine(workerId, method, null, QUICK, args);
  }

  /**
   * Creates a {@link NodeEngine} on each worker and answers where each runs (worker id to node IP),
   * checking the worker's own view against the GCS's node table and {@link Worker#ip()}.
   */
  private static Map<String, String> nodeOfEach(List<Worker> workers) {
    Map<String, String> where = new LinkedHashMap<>();
    for (Worker w : workers) {
      scheduler.createEngine(w.id(), NodeEngine.class.getName(), null);
      String nodeId = (String) call(w.id(), "nodeId");
      String ip = (String) call(w.id(), "nodeIp");
      assertEquals(RayTestCluster.nodeIp(nodeId), ip, w.id() + ": its node's IP in the GCS");
      assertEquals(ip, w.ip(), w.id() + ": Worker.ip() is the IP of the node it runs on");
      where.put(w.id(), ip);
    }
    return where;
  }

  private static Map<String, Long> countByNode(Map<String, String> where) {
    return where.values().stream()
        .collect(Collectors.groupingBy(ip -> ip, TreeMap::new, Collectors.counting()));
  }

  private static PlacementGroup group(String name) {
    return PlacementGroups.getPlacementGroup(name, Ray.getRuntimeContext().getNamespace());
  }

  private static List<Double> gpusOfBundles(String groupName) {
    return group(groupName).getBundles().stream().map(b -> b.get("GPU")).toList();
  }

  /** The IP of the node an actor runs on, as the GCS's actor table says. */
  static String nodeOfActor(BaseActorHandle actor) {
    for (ActorInfo info : Ray.getRuntimeContext().getAllActorInfo()) {
      if (info.actorId.equals(actor.getId())) {
        return info.address.ip;
      }
    }
    throw new AssertionError("the GCS lists no actor " + actor.getId());
  }

  @Test
  void aSharedGroupOfEightGpusAtFourPerNodeSpansBothNodesWithItsMasterOnBundleZerosNode() {
    List<Worker> workers = scheduler.createWorkers(gpuJob("train", 8, 1, PlacementStrategy.SHARED));
    List<String> groups = scheduler.placementGroupNames("train");
    assertEquals(1, groups.size());
    assertEquals(List.of(1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0), gpusOfBundles(groups.get(0)));

    Map<String, String> where = nodeOfEach(workers);
    assertEquals(Map.of(head, 4L, second, 4L), countByNode(where), "4 ranks on each node");

    String master = scheduler.masterAddress("train");
    String masterHost = master.substring(0, master.lastIndexOf(':'));
    assertEquals(
        where.get("train/0"),
        masterHost,
        "the master address is on bundle 0's node, where rank 0 runs: " + where);
    for (Worker w : workers) {
      assertEquals(masterHost, call(w.id(), "getenv", "MASTER_ADDR"), w.id());
      assertEquals("8", call(w.id(), "getenv", "WORLD_SIZE"), w.id());
    }

    // Each node hands out its own GPUs: the 4 ranks on a node hold 4 different ids of that node.
    Map<String, Set<Long>> gpusByNode = new TreeMap<>();
    for (Worker w : workers) {
      List<?> ids = (List<?>) call(w.id(), "gpuIds");
      assertEquals(1, ids.size(), w.id() + " holds one GPU: " + ids);
      gpusByNode
          .computeIfAbsent(where.get(w.id()), k -> new TreeSet<>())
          .add(((Number) ids.get(0)).longValue());
    }
    assertEquals(Map.of(head, Set.of(0L, 1L, 2L, 3L), second, Set.of(0L, 1L, 2L, 3L)), gpusByNode);
  }

  @Test
  void separateGroupsOfANodesWorthOfGpusTakeOneNodeEach() {
    List<Worker> workers =
        scheduler.createWorkers(gpuJob("rollout", 2, 4, PlacementStrategy.SEPARATE));
    List<String> groups = scheduler.placementGroupNames("rollout");
    assertEquals(2, groups.size(), "one group per instance");
    for (String g : groups) {
      assertEquals(List.of(4.0), gpusOfBundles(g), g);
    }
    Map<String, String> where = nodeOfEach(workers);
    assertEquals(Map.of(head, 1L, second, 1L), countByNode(where), "one instance per node");
    for (Worker w : workers) {
      assertEquals(4, ((List<?>) call(w.id(), "gpuIds")).size(), w.id() + " holds its node's GPUs");
    }
  }

  @Test
  void aDeferredGroupSplitsIntoNodeSizedBundlesOnBothNodesAndRanksFollowTheirBundle() {
    List<Worker> workers =
        scheduler.createWorkers(gpuJob("server", 4, 2, PlacementStrategy.DEFERRED));
    List<String> groups = scheduler.placementGroupNames("server");
    assertEquals(1, groups.size());
    assertEquals(List.of(4.0, 4.0), gpusOfBundles(groups.get(0)), "8 GPUs at 4 per node");

    Map<String, String> where = nodeOfEach(workers);
    assertEquals(Map.of(head, 2L, second, 2L), countByNode(where));
    // Ranks 0-1 hold devices 0-3 (bundle 0), ranks 2-3 devices 4-7 (bundle 1).
    assertEquals(where.get("server/0"), where.get("server/1"), where.toString());
    assertEquals(where.get("server/2"), where.get("server/3"), where.toString());
    assertNotEquals(where.get("server/0"), where.get("server/2"), where.toString());
    for (Worker w : workers) {
      assertEquals(List.of(), call(w.id(), "gpuIds"), w.id() + ": a DEFERRED actor holds no GPU");
    }
  }

  @Test
  void eachNpuRankSeesTheNpuRayAssignedItAndNoGpu() {
    List<Worker> workers =
        scheduler.createWorkers(
            Job.builder("npu")
                .replicas(8)
                .task(
                    SchedulingSpec.builder()
                        .cpu(0.5)
                        .devices(1, DeviceType.NPU)
                        .placement(PlacementStrategy.SHARED)
                        .build())
                .build());
    Map<String, String> where = nodeOfEach(workers);
    assertEquals(Map.of(head, 4L, second, 4L), countByNode(where), "4 NPU ranks on each node");
    Map<String, Set<Long>> npusByNode = new TreeMap<>();
    for (Worker w : workers) {
      List<?> ids = (List<?>) call(w.id(), "gpuIds"); // the engine context's device ids
      assertEquals(1, ids.size(), w.id() + " holds one NPU: " + ids);
      long id = ((Number) ids.get(0)).longValue();
      npusByNode.computeIfAbsent(where.get(w.id()), k -> new TreeSet<>()).add(id);
      assertEquals(
          Long.toString(id),
          call(w.id(), "nativeEnv", "ASCEND_RT_VISIBLE_DEVICES"),
          w.id() + ": device 0 of an ACL runtime loaded there is the NPU Ray assigned");
      assertEquals("", call(w.id(), "nativeEnv", "CUDA_VISIBLE_DEVICES"), w.id() + " sees no GPU");
    }
    assertEquals(Map.of(head, Set.of(0L, 1L, 2L, 3L), second, Set.of(0L, 1L, 2L, 3L)), npusByNode);
  }

  @Test
  void aShardStoredOnOneNodeIsFetchedOnTheOtherThroughTheObjectStore() {
    ActorHandle<ShardActor> onSecond =
        Ray.actor(ShardActor::new).setResource("node:" + second, 0.01).remote();
    ActorHandle<ShardActor> onHead =
        Ray.actor(ShardActor::new).setResource("node:" + head, 0.01).remote();
    try {
      onSecond.task(ShardActor::pid).remote().get(120_000);
      onHead.task(ShardActor::pid).remote().get(120_000);
      assertEquals(second, nodeOfActor(onSecond), "the producer runs on the second node");
      assertEquals(head, nodeOfActor(onHead), "the consumer runs on the head");

      int count = 3;
      int n = 1 << 20; // 4 MiB a shard: plasma objects, pulled node to node
      double expected =
          (double) n * 1000 * (count * (count - 1) / 2) + (double) count * n * (n - 1) / 2;
      List<Object> storedOnSecond =
          onSecond.task(ShardActor::produce, count, n).remote().get(120_000);
      assertEquals(
          expected, onHead.task(ShardActor::consume, storedOnSecond).remote().get(120_000));

      // And the other way, and into the driver (on the head) through its own plane.
      List<Object> storedOnHead = onHead.task(ShardActor::produce, count, n).remote().get(120_000);
      assertEquals(
          expected, onSecond.task(ShardActor::consume, storedOnHead).remote().get(120_000));
      try (RootAllocator root = new RootAllocator();
          RayObjectStorePlane plane = new RayObjectStorePlane()) {
        List<?> local = (List<?>) new Remotizer(plane, null, root).localize(storedOnSecond);
        double sum = 0;
        for (Object t : local) {
          for (float f : ((Tensor) t).toFloatArray()) {
            sum += f;
          }
          ((Tensor) t).close();
        }
        assertEquals(expected, sum);
      }

      assertEquals(
          3L, (long) onSecond.task(ShardActor::clear, storedOnSecond).remote().get(60_000));
      assertEquals(3L, (long) onHead.task(ShardActor::clear, storedOnHead).remote().get(60_000));
      List<String> ids = storedOnSecond.stream().map(ShardActor::idOf).toList();
      assertEquals(3, (int) onHead.task(ShardActor::evict, ids).remote().get(60_000));
      assertEquals(0L, (long) onHead.task(ShardActor::allocated).remote().get(60_000));
    } finally {
      onSecond.kill();
      onHead.kill();
    }
  }

  @Test
  void theClusterHasTwoNodesOnDistinctLoopbackAddresses() {
    Set<String> ips = new TreeSet<>();
    RayTestCluster.aliveNodes().forEach(n -> ips.add(n.nodeAddress));
    assertEquals(Set.of(head, second), ips);
    assertTrue(second.startsWith("127."), "the second node is on loopback: " + second);
    assertEquals(second, System.getenv().getOrDefault("RTENSOR_RAY_SECOND_NODE_IP", second));
  }
}
