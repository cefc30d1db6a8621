package io.rtensor.scheduler.ray;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ray.api.PlacementGroups;
import io.ray.api.Ray;
import io.ray.api.placementgroup.PlacementGroup;
import io.ray.api.placementgroup.PlacementGroupState;
import io.rtensor.scheduler.CallOptions;
import io.rtensor.scheduler.Job;
import io.rtensor.scheduler.PlacementStrategy;
import io.rtensor.scheduler.SchedulingSpec;
import io.rtensor.scheduler.Worker;
import io.rtensor.scheduler.WorkerNotFoundException;
import io.rtensor.scheduler.WorkerTimeoutException;
import io.rtensor.testing.RayTestCluster;
import io.rtensor.testing.engines.EchoEngine;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** RayScheduler on the project's real Ray head (8 CPUs, 4 GPUs, 4 NPUs declared). */
@Tag("ray")
class RaySchedulerTest {
  private static final CallOptions QUICK =
      CallOptions.DEFAULT.withTimeout(Duration.ofSeconds(60)).withMaxRetries(0);

  private static RayScheduler scheduler;

  @BeforeAll
  static void start() {
    RayTestCluster.connect();
    scheduler = RayScheduler.builder().startupTimeout(Duration.ofSeconds(90)).build();
  }

  @AfterEach
  void deleteRoles() {
    if (scheduler == null) {
      return;
    }
    scheduler.deleteWorkers(null, true);
    assertTrue(scheduler.roles().isEmpty());
  }

  @AfterAll
  static void stop() {
    if (scheduler == null) {
      return;
    }
    String prefix = "rtensor-" + scheduler.id() + "-";
    scheduler.close();
    int seen = 0;
    for (PlacementGroup group : PlacementGroups.getAllPlacementGroups()) {
      if (group.getName() != null && group.getName().startsWith(prefix)) {
        assertEquals(PlacementGroupState.REMOVED, group.getState(), group.getName());
        seen++;
      }
    }
    assertTrue(seen > 0, "the suite's placement groups are listed (removed) by Ray");
  }

  private static Job gpuJob(String role, int replicas, PlacementStrategy placement) {
    return Job.builder(role)
        .replicas(replicas)
        .task(SchedulingSpec.builder().cpu(0.5).gpu(1).placement(placement).build())
        .build();
  }

  private static Object call(String workerId, String method, Object... args) {
    return scheduler.callEngine(workerId, method, null, QUICK, args);
  }

  private static void echoEngines(List<Worker> workers) {
    for (Worker w : workers) {
      scheduler.createEngine(w.id(), EchoEngine.class.getName(), "echo");
    }
  }

  private static void awaitGone(String actorName) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (Ray.getActor(actorName).isPresent() && System.nanoTime() < deadline) {
      Thread.sleep(200);
    }
    assertFalse(Ray.getActor(actorName).isPresent(), actorName + " is gone");
  }

  @Test
  void sharedPlacementPutsTwoTrainingRanksInOneGroupAndDeleteRemovesIt() throws Exception {
    List<Worker> workers = scheduler.createWorkers(gpuJob("train", 2, PlacementStrategy.SHARED));
    assertEquals(List.of("train/0", "train/1"), workers.stream().map(Worker::id).toList());
    List<String> groups = scheduler.placementGroupNames("train");
    assertEquals(1, groups.size());
    PlacementGroup group =
        PlacementGroups.getPlacementGroup(groups.get(0), Ray.getRuntimeContext().getNamespace());
    assertEquals(2, group.getBundles().size());
    assertEquals(PlacementGroupState.CREATED, group.getState());

    echoEngines(workers);
    String master = scheduler.masterAddress("train");
    assertEquals(
        master.substring(0, master.indexOf(':')), call("train/1", "getenv", "MASTER_ADDR"));
    assertEquals("1", call("train/1", "getenv", "RANK"));
    assertEquals("2", call("train/0", "getenv", "WORLD_SIZE"));
    assertEquals(1, ((List<?>) call("train/0", "gpuIds")).size());
    assertEquals(5, call("train/0", "add", 2, 3));
    assertEquals("ab", call("train/0", "add", "a", "b"));
    assertEquals(14, call("train/0", "later", 7));

    String actor0 = scheduler.actorName("train/0");
    String actor1 = scheduler.actorName("train/1");
    scheduler.deleteWorkers("train", false);
    awaitGone(actor0);
    awaitGone(actor1);
    assertEquals(
        PlacementGroupState.REMOVED, PlacementGroups.getPlacementGroup(group.getId()).getState());
    assertThrows(
        WorkerNotFoundException.class, () -> scheduler.getWorkers("train", Duration.ofSeconds(5)));
  }

  @Test
  void separatePlacementGivesEachRolloutInstanceItsOwnGroup() {
    List<Worker> workers =
        scheduler.createWorkers(gpuJob("rollout", 2, PlacementStrategy.SEPARATE));
    assertEquals(2, workers.size());
    assertEquals(2, scheduler.placementGroupNames("rollout").size());
    assertEquals(workers, scheduler.getWorkers("rollout", Duration.ofSeconds(30)));
  }

  @Test
  void deferredPlacementReservesNodeSizedBundlesWhileTheActorHoldsNoDevice() {
    RayScheduler narrow =
        RayScheduler.builder().nGpusPerNode(2).startupTimeout(Duration.ofSeconds(90)).build();
    try {
      Job job =
          Job.builder("server")
              .replicas(3)
              .task(
                  SchedulingSpec.builder()
                      .cpu(0.5)
                      .gpu(1)
                      .placement(PlacementStrategy.DEFERRED)
                      .build())
              .build();
      narrow.createWorkers(job);
      PlacementGroup group =
          PlacementGroups.getPlacementGroup(
              narrow.placementGroupNames("server").get(0), Ray.getRuntimeContext().getNamespace());
      assertEquals(List.of(2.0, 1.0), group.getBundles().stream().map(b -> b.get("GPU")).toList());
      for (int i = 0; i < 3; i++) {
        narrow.createEngine("server/" + i, EchoEngine.class.getName(), null);
        assertEquals(
            List.of(),
            narrow.callEngine("server/" + i, "gpuIds", null, QUICK),
            "a DEFERRED actor holds no GPU itself");
      }
    } finally {
      narrow.close();
    }
  }

  @Test
  void infeasibleJobTimesOutAndLeavesNothingOnTheCluster() {
    RayScheduler quick = RayScheduler.builder().startupTimeout(Duration.ofSeconds(4)).build();
    try {
      long start = System.nanoTime();
      WorkerTimeoutException e =
          assertThrows(
              WorkerTimeoutException.class,
              () ->
                  quick.createWorkers(
                      Job.builder("huge").task(SchedulingSpec.builder().gpu(64).build()).build()));
      assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(20), "within the timeout");
      assertEquals("huge", e.role());
      assertTrue(quick.roles().isEmpty());
      String prefix = "rtensor-" + quick.id() + "-";
      List<String> groups = new ArrayList<>();
      for (PlacementGroup group : PlacementGroups.getAllPlacementGroups()) {
        if (group.getName() != null && group.getName().startsWith(prefix)) {
          assertEquals(PlacementGroupState.REMOVED, group.getState(), group.getName());
          groups.add(group.getName());
        }
      }
      assertEquals(List.of(prefix + "huge-pg0"), groups, "the one group it tried was removed");
    } finally {
      quick.close();
    }
  }

  @Test
  void configureAndSetWorkerEnvReachEnginesCreatedAfterwards() {
    scheduler.createWorkers(
        Job.builder("conf")
            .task(SchedulingSpec.builder().cpu(0.5).env("FROM_SPEC", "spec").build())
            .build());
    scheduler.configure("conf/0", "critic", 3, 42L);
    scheduler.setWorkerEnv("conf/0", Map.of("FROM_CALL", "call"));
    scheduler.createEngine("conf/0", EchoEngine.class.getName(), "echo", "labelled");
    assertEquals("conf/0 critic 3 42", call("conf/0", "describe"));
    assertEquals("call", call("conf/0", "getenv", "FROM_CALL"));
    assertEquals("spec", call("conf/0", "getenv", "FROM_SPEC"));
    assertEquals("1", call("conf/0", "getenv", "OMP_NUM_THREADS"));
    assertEquals("labelled", call("conf/0", "label"));
  }
}
