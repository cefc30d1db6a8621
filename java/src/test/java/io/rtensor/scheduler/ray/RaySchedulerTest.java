package io.rtensor.scheduler.ray;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ray.api.PlacementGroups;
import io.ray.api.Ray;
import io.ray.api.placementgroup.PlacementGroup;
import io.ray.api.placementgroup.PlacementGroupState;
import io.rtensor.scheduler.CallOptions;
import io.rtensor.scheduler.DeviceType;
import io.rtensor.scheduler.EngineCallError;
import io.rtensor.scheduler.EngineCreationError;
import io.rtensor.scheduler.Job;
import io.rtensor.scheduler.PlacementStrategy;
import io.rtensor.scheduler.SchedulingSpec;
import io.rtensor.scheduler.SchedulingStrategy;
import io.rtensor.scheduler.Worker;
import io.rtensor.scheduler.WorkerCreationError;
import io.rtensor.scheduler.WorkerFailedError;
import io.rtensor.scheduler.WorkerNotFoundError;
import io.rtensor.scheduler.WorkerTimeoutError;
import io.rtensor.testing.RayTestCluster;
import io.rtensor.testing.engines.EchoEngine;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
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
    scheduler.deleteWorkers(null, true);
    assertTrue(scheduler.roles().isEmpty());
  }

  @AfterAll
  static void stop() {
    String prefix = "rtensor-" + scheduler.id() + "-";
    scheduler.close();
    for (PlacementGroup group : PlacementGroups.getAllPlacementGroups()) {
      if (group.getName() != null && group.getName().startsWith(prefix)) {
        assertEquals(PlacementGroupState.REMOVED, group.getState(), group.getName());
      }
    }
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
        WorkerNotFoundError.class, () -> scheduler.getWorkers("train", Duration.ofSeconds(5)));
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
  void colocationReusesTheTargetsActors() {
    List<Worker> train = scheduler.createWorkers(gpuJob("actor", 2, PlacementStrategy.SHARED));
    echoEngines(train);
    List<Worker> ref =
        scheduler.createWorkers(
            Job.builder("ref")
                .replicas(2)
                .strategy(SchedulingStrategy.colocation("actor"))
                .build());
    assertEquals(List.of("ref/0", "ref/1"), ref.stream().map(Worker::id).toList());
    assertEquals(call("actor/1", "pid"), call("ref/1", "pid"));
    assertTrue(scheduler.placementGroupNames("ref").isEmpty());
    scheduler.deleteWorkers("ref", false);
    assertEquals(5, call("actor/0", "add", 2, 3), "deleting the reusing role keeps the target");
  }

  @Test
  void forkStartsNewActorsOnTheTargetsGpus() {
    List<Worker> train = scheduler.createWorkers(gpuJob("policy", 1, PlacementStrategy.SHARED));
    echoEngines(train);
    List<Worker> forked = scheduler.forkWorkers("policy-proxy", "policy");
    assertEquals("policy-proxy/0", forked.get(0).id());
    scheduler.createEngine("policy-proxy/0", EchoEngine.class.getName(), null);
    assertNotEquals(call("policy/0", "pid"), call("policy-proxy/0", "pid"));
    List<?> mainGpus = (List<?>) call("policy/0", "gpuIds");
    assertEquals(1, mainGpus.size());
    assertEquals(mainGpus, call("policy-proxy/0", "gpuIds"));
    scheduler.deleteWorkers("policy-proxy", false);
    assertEquals(mainGpus, call("policy/0", "gpuIds"), "the target survives its fork's deletion");
  }

  @Test
  void forkOfAMultiGpuWorkerIsRefused() {
    scheduler.createWorkers(
        Job.builder("wide").task(SchedulingSpec.builder().cpu(0.5).gpu(2).build()).build());
    WorkerCreationError e =
        assertThrows(WorkerCreationError.class, () -> scheduler.forkWorkers("wide-fork", "wide"));
    assertTrue(e.getMessage().contains("multi-device"), e.getMessage());
  }

  @Test
  void infeasibleJobTimesOutAndLeavesNothingOnTheCluster() {
    RayScheduler quick = RayScheduler.builder().startupTimeout(Duration.ofSeconds(4)).build();
    try {
      long start = System.nanoTime();
      WorkerTimeoutError e =
          assertThrows(
              WorkerTimeoutError.class,
              () ->
                  quick.createWorkers(
                      Job.builder("huge").task(SchedulingSpec.builder().gpu(64).build()).build()));
      assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(20), "within the timeout");
      assertEquals("huge", e.role());
      assertTrue(quick.roles().isEmpty());
      String prefix = "rtensor-" + quick.id() + "-";
      for (PlacementGroup group : PlacementGroups.getAllPlacementGroups()) {
        if (group.getName() != null && group.getName().startsWith(prefix)) {
          assertEquals(PlacementGroupState.REMOVED, group.getState(), group.getName());
        }
      }
    } finally {
      quick.close();
    }
  }

  @Test
  void killedWorkerGivesWorkerFailedErrorAndTheSchedulerStaysUsable() throws Exception {
    List<Worker> workers =
        scheduler.createWorkers(
            Job.builder("victim")
                .replicas(2)
                .task(SchedulingSpec.builder().cpu(0.5).build())
                .build());
    echoEngines(workers);
    String name = scheduler.actorName("victim/0");
    Ray.getActor(name).orElseThrow().kill();
    awaitGone(name);
    WorkerFailedError e =
        assertThrows(WorkerFailedError.class, () -> call("victim/0", "add", 1, 2));
    assertEquals("victim/0", e.workerId());
    assertThrows(
        WorkerFailedError.class, () -> scheduler.getWorkers("victim", Duration.ofSeconds(10)));
    assertEquals(3, call("victim/1", "add", 1, 2));
  }

  @Test
  void engineExceptionIsAnEngineCallErrorAfterExactlyOneAttempt() {
    List<Worker> workers =
        scheduler.createWorkers(
            Job.builder("thrower").task(SchedulingSpec.builder().cpu(0.5).build()).build());
    echoEngines(workers);
    EngineCallError e =
        assertThrows(
            EngineCallError.class,
            () ->
                scheduler.callEngine(
                    "thrower/0",
                    "fail",
                    "echo",
                    CallOptions.DEFAULT.withMaxRetries(3),
                    "disk full"));
    assertEquals(1, e.attempt());
    assertEquals(IllegalStateException.class.getName(), e.remoteClass());
    assertEquals("disk full", e.remoteMessage());
    assertTrue(e.remoteStack().contains("EchoEngine.fail"), e.remoteStack());
    assertEquals(1, call("thrower/0", "calls"), "the engine ran the method once");
  }

  @Test
  void slowEngineWithAShortTimeoutIsRetriedThenFails() {
    List<Worker> workers =
        scheduler.createWorkers(
            Job.builder("slow").task(SchedulingSpec.builder().cpu(0.5).build()).build());
    echoEngines(workers);
    CallOptions options =
        CallOptions.DEFAULT
            .withTimeout(Duration.ofMillis(300))
            .withMaxRetries(2)
            .withInitialBackoff(Duration.ofMillis(10));
    EngineCallError e =
        assertThrows(
            EngineCallError.class,
            () -> scheduler.callEngine("slow/0", "countedSleep", null, options, 2_000L));
    assertEquals(3, e.attempt());
    assertTrue(e.getMessage().contains("timed out"), e.getMessage());
    assertEquals(3, call("slow/0", "calls"), "three attempts reached the engine");
  }

  @Test
  void asyncCallsToEightWorkersRunAtOnce() throws Exception {
    List<Worker> workers =
        scheduler.createWorkers(
            Job.builder("fleet")
                .replicas(8)
                .task(SchedulingSpec.builder().cpu(0.25).build())
                .build());
    echoEngines(workers);
    long start = System.nanoTime();
    List<CompletableFuture<Object>> futures = new ArrayList<>();
    for (Worker w : workers) {
      futures.add(scheduler.callEngineAsync(w.id(), "countedSleep", null, QUICK, 1_000L));
    }
    for (CompletableFuture<Object> f : futures) {
      assertEquals(1, f.get(60, TimeUnit.SECONDS));
    }
    double seconds = (System.nanoTime() - start) / 1e9;
    assertTrue(seconds < 8, "8 one-second calls overlapped, took " + seconds + " s");
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

  @Test
  void badInputGivesTypedErrorsAndLeavesTheWorkerUsable() {
    scheduler.createWorkers(
        Job.builder("bad").task(SchedulingSpec.builder().cpu(0.5).build()).build());
    assertThrows(WorkerNotFoundError.class, () -> call("bad/7", "add", 1, 2));
    assertThrows(WorkerNotFoundError.class, () -> call("nobody/0", "add", 1, 2));

    EngineCallError noEngine =
        assertThrows(EngineCallError.class, () -> call("bad/0", "add", 1, 2));
    assertTrue(noEngine.getMessage().contains("no engine"), noEngine.getMessage());

    EngineCreationError missing =
        assertThrows(
            EngineCreationError.class,
            () -> scheduler.createEngine("bad/0", "io.rtensor.testing.engines.Missing", null));
    assertTrue(missing.getMessage().contains("not found"), missing.getMessage());
    EngineCreationError notEngine =
        assertThrows(
            EngineCreationError.class,
            () -> scheduler.createEngine("bad/0", "io.rtensor.testing.engines.NotAnEngine", null));
    assertTrue(notEngine.getMessage().contains("does not implement"), notEngine.getMessage());
    EngineCreationError throwing =
        assertThrows(
            EngineCreationError.class,
            () ->
                scheduler.createEngine("bad/0", "io.rtensor.testing.engines.ThrowingEngine", null));
    assertTrue(throwing.getMessage().contains("no model weights"), throwing.getMessage());
    assertNotNull(throwing.remoteStack());

    scheduler.createEngine("bad/0", EchoEngine.class.getName(), "echo");
    EngineCallError wrongEngine =
        assertThrows(
            EngineCallError.class, () -> scheduler.callEngine("bad/0", "add", "nope", QUICK, 1, 2));
    assertTrue(wrongEngine.getMessage().contains("nope"), wrongEngine.getMessage());
    EngineCallError noMethod =
        assertThrows(EngineCallError.class, () -> call("bad/0", "subtract", 1, 2));
    assertTrue(noMethod.getMessage().contains("candidates: none"), noMethod.getMessage());
    EngineCallError wrongTypes =
        assertThrows(EngineCallError.class, () -> call("bad/0", "add", 1, "b"));
    assertTrue(wrongTypes.getMessage().contains("add(int, int)"), wrongTypes.getMessage());
    EngineCallError unserializable =
        assertThrows(EngineCallError.class, () -> call("bad/0", "echo", new Thread()));
    assertEquals(1, unserializable.attempt());

    assertEquals(3, call("bad/0", "add", 1, 2), "the worker still serves calls");
  }

  @Test
  void invalidJobsAreRefusedBeforeTouchingTheCluster() {
    SchedulingSpec spec = SchedulingSpec.builder().build();
    assertThrows(
        WorkerCreationError.class,
        () -> scheduler.createWorkers(Job.builder("z").replicas(0).task(spec).build()));
    assertThrows(
        WorkerCreationError.class,
        () -> scheduler.createWorkers(Job.builder("z").replicas(3).task(spec).task(spec).build()));
    assertThrows(
        WorkerCreationError.class,
        () ->
            scheduler.createWorkers(
                Job.builder("z")
                    .replicas(2)
                    .task(spec)
                    .task(SchedulingSpec.builder().placement(PlacementStrategy.SEPARATE).build())
                    .build()));
    assertThrows(
        WorkerCreationError.class,
        () ->
            scheduler.createWorkers(
                Job.builder("z").strategy(SchedulingStrategy.colocation("absent")).build()));
    assertThrows(
        WorkerCreationError.class,
        () -> scheduler.createWorkers(Job.builder("a/b").task(spec).build()));
    assertThrows(
        WorkerCreationError.class,
        () ->
            scheduler.createWorkers(
                Job.builder("tpu")
                    .task(SchedulingSpec.builder().devices(1, DeviceType.NPU).build())
                    .task(SchedulingSpec.builder().gpu(1).build())
                    .replicas(2)
                    .build()));
    assertTrue(scheduler.roles().isEmpty());
  }
}
