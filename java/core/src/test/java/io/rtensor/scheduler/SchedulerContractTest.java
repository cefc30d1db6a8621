package io.rtensor.scheduler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.rtensor.handle.RTensor;
import io.rtensor.host.WorkerMemory;
import io.rtensor.tensor.Shape;
import io.rtensor.tensor.Tensor;
import io.rtensor.tensor.TensorBatch;
import io.rtensor.testing.engines.Calculator;
import io.rtensor.testing.engines.DeviceEngine;
import io.rtensor.testing.engines.EchoEngine;
import io.rtensor.testing.engines.TensorApi;
import io.rtensor.testing.engines.TensorEngine;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * The contract every {@link Scheduler} keeps, run against each implementation by a subclass.
 * Subclasses supply the scheduler and the few observations only they can make (a worker's device
 * ids, killing a worker from outside, whether a worker's process is gone).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
public abstract class SchedulerContractTest {
  protected static final CallOptions QUICK =
      CallOptions.DEFAULT.withTimeout(Duration.ofSeconds(60)).withMaxRetries(0);

  protected Scheduler scheduler;

  /** A fresh scheduler offering at least 4 GPUs (real or declared). */
  protected abstract Scheduler newScheduler();

  /** Kills a worker's process from outside the scheduler (kill -9, or Ray's kill). */
  protected abstract void killWorker(String workerId) throws Exception;

  /** Something that identifies a worker's process for {@link #assertGone}. */
  protected abstract Object processOf(String workerId);

  /** Fails unless the process identified by {@code process} has ended (waits a bounded time). */
  protected abstract void assertGone(Object process) throws Exception;

  /** The device ids a worker sees. */
  protected abstract List<?> deviceIdsOf(String workerId);

  @BeforeAll
  void startScheduler() {
    scheduler = newScheduler();
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
  void closeScheduler() {
    if (scheduler != null) {
      scheduler.close();
    }
  }

  protected Object call(String workerId, String method, Object... args) {
    return scheduler.callEngine(workerId, method, null, QUICK, args);
  }

  /**
   * Asserts that {@code read}, an engine call that fetches the cleared shard {@code shardId}, fails
   * naming it within 10 s. A plane whose clear removes the shard before it returns fails the first
   * read; Ray's object store deletes freed objects asynchronously, so a read racing the deletion
   * may still find the object and is retried until the deadline.
   */
  protected static void assertUnreadableAfterClear(String shardId, Runnable read)
      throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    int reads = 0;
    while (true) {
      reads++;
      try {
        read.run();
      } catch (EngineCallException gone) {
        assertTrue(gone.getMessage().contains(shardId), gone.getMessage());
        return;
      }
      if (System.nanoTime() > deadline) {
        fail("shard " + shardId + " was still readable 10 s after its clear (" + reads + " reads)");
      }
      Thread.sleep(100);
    }
  }

  protected List<Worker> cpuWorkers(String role, int replicas) {
    List<Worker> workers =
        scheduler.createWorkers(
            Job.builder(role)
                .replicas(replicas)
                .task(SchedulingSpec.builder().cpu(0.25).build())
                .build());
    for (Worker w : workers) {
      scheduler.createEngine(w.id(), EchoEngine.class.getName(), "echo");
    }
    return workers;
  }

  @Test
  void createdWorkersAnswerAndDeleteEndsTheirProcesses() throws Exception {
    List<Worker> workers = cpuWorkers("gen", 2);
    assertEquals(List.of("gen/0", "gen/1"), workers.stream().map(Worker::id).toList());
    assertEquals(List.of("gen"), scheduler.roles());
    assertEquals(
        List.of("gen/0", "gen/1"),
        scheduler.getWorkers("gen", Duration.ofSeconds(30)).stream().map(Worker::id).toList());
    Object p0 = processOf("gen/0");
    Object p1 = processOf("gen/1");
    scheduler.deleteWorkers("gen", false);
    assertGone(p0);
    assertGone(p1);
    assertThrows(
        WorkerNotFoundException.class, () -> scheduler.getWorkers("gen", Duration.ofSeconds(5)));
    assertThrows(WorkerNotFoundException.class, () -> call("gen/0", "add", 1, 2));
  }

  @Test
  void enginesAnswerCallsWithOverloadsFuturesAndEnvironment() {
    List<Worker> workers =
        scheduler.createWorkers(
            Job.builder("calc")
                .replicas(2)
                .task(SchedulingSpec.builder().cpu(0.25).env("FROM_SPEC", "spec").build())
                .build());
    scheduler.setWorkerEnv("calc/1", Map.of("FROM_CALL", "call"));
    for (Worker w : workers) {
      scheduler.createEngine(w.id(), EchoEngine.class.getName(), "echo", "labelled");
    }
    assertEquals(5, call("calc/0", "add", 2, 3));
    assertEquals("ab", call("calc/0", "add", "a", "b"));
    assertEquals(14, call("calc/0", "later", 7));
    assertEquals("labelled", call("calc/1", "label"));
    assertEquals(List.of(1, "two", 3.0), call("calc/1", "echo", List.of(1, "two", 3.0)));
    assertEquals("spec", call("calc/1", "getenv", "FROM_SPEC"));
    assertEquals("call", call("calc/1", "getenv", "FROM_CALL"));
    assertEquals("1", call("calc/1", "getenv", "RANK"));
    assertEquals("2", call("calc/0", "getenv", "WORLD_SIZE"));
    assertEquals("1", call("calc/0", "getenv", "OMP_NUM_THREADS"));
    assertEquals("calc/0 calc 0 0", call("calc/0", "describe"));
  }

  @Test
  void typedProxiesRunEngineMethodsRemotely() throws Exception {
    cpuWorkers("typed", 1);
    Calculator calculator = EngineProxy.of(scheduler, "typed/0", Calculator.class);
    assertEquals(7, calculator.add(3, 4));
    assertEquals("xy", calculator.add("x", "y"));
    assertEquals(call("typed/0", "pid"), calculator.pid());
    assertEquals(20, calculator.later(10).get(60, TimeUnit.SECONDS));
    EngineCallException e = assertThrows(EngineCallException.class, () -> calculator.fail("no"));
    assertEquals("no", e.remoteMessage());

    EchoEngine viaClass = EngineProxy.of(scheduler, "typed/0", "echo", EchoEngine.class, QUICK);
    assertEquals(9, viaClass.add(4, 5));
    assertEquals("echo", viaClass.label());
  }

  /** tokens[r][c] = r * 10 + c summed over rows [from, to). */
  private static long tokenSum(int from, int to) {
    long sum = 0;
    for (int r = from; r < to; r++) {
      sum += 4 * r * 10L + 6;
    }
    return sum;
  }

  @Test
  void tensorsMoveWorkerToWorkerAsHandlesAndClearDrainsThem() throws Exception {
    List<Worker> workers =
        scheduler.createWorkers(
            Job.builder("data")
                .replicas(2)
                .task(SchedulingSpec.builder().cpu(0.25).build())
                .build());
    for (Worker w : workers) {
      scheduler.createEngine(w.id(), TensorEngine.class.getName(), null);
    }
    Object handle = call("data/0", "produce", 16);
    RTensor shard = assertInstanceOf(RTensor.class, handle);
    assertEquals(List.of("tokens", "rewards"), shard.columns());
    assertEquals(tokenSum(0, 16), call("data/1", "sumTokens", handle));
    assertEquals(tokenSum(0, 16), call("data/1", "sumTokens", handle), "a cached shard");

    @SuppressWarnings("unchecked")
    Map<String, Object> nested = (Map<String, Object>) call("data/0", "produceNested", 16, 4);
    assertEquals("nested", nested.get("label"));
    List<?> pieces = (List<?>) nested.get("pieces");
    assertEquals(4, pieces.size());
    pieces.forEach(p -> assertInstanceOf(RTensor.class, p));
    assertEquals(tokenSum(0, 16), call("data/1", "sumPieces", pieces));
    assertEquals(24L, call("data/1", "sumInts", nested.get("ids")));

    try (TensorBatch local = (TensorBatch) scheduler.dataPlane().localize(pieces.get(3))) {
      assertEquals(4, local.rows());
      assertEquals(120L, local.tensor("tokens").getLong(0, 0), "row 12 of the whole batch");
    }

    TensorApi api = EngineProxy.of(scheduler, "data/0", TensorApi.class);
    RTensor fromProxy = api.produce(3);
    assertEquals(
        tokenSum(0, 3), EngineProxy.of(scheduler, "data/1", TensorApi.class).sumTokens(fromProxy));

    WorkerMemory producer = scheduler.workerMemory("data/0");
    assertEquals("data/0", producer.workerId());
    assertEquals(7, producer.storedShards(), producer.toString());
    assertTrue(producer.storedBytes() > 0, producer.toString());
    assertTrue(producer.heapUsedBytes() > 0, producer.toString());
    WorkerMemory consumer = scheduler.workerMemory("data/1");
    assertEquals(0, consumer.storedShards(), consumer.toString());
    assertEquals(7, consumer.cachedShards(), "what data/1 fetched: " + consumer);

    long removed = scheduler.clearShards(List.of(handle, nested, fromProxy));
    assertEquals(7, removed, "1 + 4 pieces + 1 tensor + 1 from the proxy");
    producer = scheduler.workerMemory("data/0");
    assertEquals(0, producer.storedShards(), producer.toString());
    assertEquals(0, producer.storedBytes(), producer.toString());
    consumer = scheduler.workerMemory("data/1");
    assertEquals(0, consumer.cachedShards(), consumer.toString());
    assertEquals(0, consumer.cachedBytes(), consumer.toString());
    assertEquals(0, consumer.arrowBytes(), "nothing left in the consumer's Arrow memory");
    assertThrows(WorkerNotFoundException.class, () -> scheduler.workerMemory("data/9"));
    assertUnreadableAfterClear(shard.shardId(), () -> call("data/1", "sumTokens", handle));
  }

  @Test
  void tensorsTheControllerRemotizesReachWorkersAndAreCleared() throws Exception {
    List<Worker> workers =
        scheduler.createWorkers(
            Job.builder("fromcontroller").task(SchedulingSpec.builder().cpu(0.25).build()).build());
    scheduler.createEngine(workers.get(0).id(), TensorEngine.class.getName(), null);
    long[] tokens = new long[8 * 4];
    for (int r = 0; r < 8; r++) {
      for (int c = 0; c < 4; c++) {
        tokens[r * 4 + c] = r * 10L + c;
      }
    }
    Object remote;
    try (BufferAllocator mine = new RootAllocator();
        TensorBatch batch = TensorBatch.of("tokens", Tensor.of(mine, tokens, Shape.of(8, 4)))) {
      remote = scheduler.dataPlane().remotize(Map.of("batch", batch, "step", 3));
    }
    Map<?, ?> structure = assertInstanceOf(Map.class, remote);
    assertEquals(3, structure.get("step"));
    RTensor handle = assertInstanceOf(RTensor.class, structure.get("batch"));
    assertEquals(tokenSum(0, 8), call("fromcontroller/0", "sumTokens", handle));
    assertEquals(1, scheduler.clearShards(remote));
    assertUnreadableAfterClear(
        handle.shardId(), () -> call("fromcontroller/0", "sumTokens", handle));
  }

  @Test
  void colocationReusesTheTargetsWorkers() {
    cpuWorkers("actor", 2);
    List<Worker> ref =
        scheduler.createWorkers(
            Job.builder("ref")
                .replicas(2)
                .strategy(SchedulingStrategy.colocation("actor"))
                .build());
    assertEquals(List.of("ref/0", "ref/1"), ref.stream().map(Worker::id).toList());
    assertEquals(call("actor/1", "pid"), call("ref/1", "pid"));
    scheduler.deleteWorkers("ref", false);
    assertEquals(5, call("actor/0", "add", 2, 3), "deleting the reusing role keeps the target");
  }

  @Test
  void forkStartsNewWorkersOnTheTargetsDevices() {
    List<Worker> target =
        scheduler.createWorkers(
            Job.builder("policy").task(SchedulingSpec.builder().cpu(0.5).gpu(1).build()).build());
    scheduler.createEngine(target.get(0).id(), EchoEngine.class.getName(), null);
    List<Worker> forked = scheduler.forkWorkers("policy-proxy", "policy");
    assertEquals("policy-proxy/0", forked.get(0).id());
    scheduler.createEngine("policy-proxy/0", EchoEngine.class.getName(), null);
    assertNotEquals(call("policy/0", "pid"), call("policy-proxy/0", "pid"));
    List<?> devices = deviceIdsOf("policy/0");
    assertEquals(1, devices.size());
    assertEquals(devices, deviceIdsOf("policy-proxy/0"));
    scheduler.deleteWorkers("policy-proxy", false);
    assertEquals(devices, deviceIdsOf("policy/0"), "the target survives its fork's deletion");
  }

  @Test
  void forkOfAMultiDeviceWorkerIsRefused() {
    scheduler.createWorkers(
        Job.builder("wide").task(SchedulingSpec.builder().cpu(0.5).gpu(2).build()).build());
    WorkerCreationException e =
        assertThrows(
            WorkerCreationException.class, () -> scheduler.forkWorkers("wide-fork", "wide"));
    assertTrue(e.getMessage().contains("multi-device"), e.getMessage());
  }

  @Test
  void asyncCallsToEightWorkersOverlap() throws Exception {
    List<Worker> workers = cpuWorkers("fleet", 8);
    List<CompletableFuture<Object>> futures = new ArrayList<>();
    for (Worker w : workers) {
      futures.add(scheduler.callEngineAsync(w.id(), "sleepWindow", null, QUICK, 4_000L));
    }
    List<long[]> windows = new ArrayList<>();
    for (CompletableFuture<Object> f : futures) {
      String[] w = ((String) f.get(60, TimeUnit.SECONDS)).split(",");
      windows.add(new long[] {Long.parseLong(w[0]), Long.parseLong(w[1])});
    }
    // The calls ran at once iff some moment lies inside every sleep: the latest start comes before
    // the earliest end. Each sleeps 4 s, far longer than dispatching 8 calls takes.
    int most = 0;
    for (long[] at : windows) {
      int sleeping = 0;
      for (long[] w : windows) {
        sleeping += w[0] <= at[0] && at[0] < w[1] ? 1 : 0;
      }
      most = Math.max(most, sleeping);
    }
    long latestStart = windows.stream().mapToLong(w -> w[0]).max().orElseThrow();
    long earliestEnd = windows.stream().mapToLong(w -> w[1]).min().orElseThrow();
    assertEquals(8, most, () -> "not all 8 calls were sleeping at one moment: " + windows);
    assertTrue(
        latestStart < earliestEnd,
        () ->
            "the 8 calls did not all run at once: "
                + windows.stream().map(java.util.Arrays::toString).toList());
  }

  @Test
  void asyncCallsToOneWorkerOverlap() throws Exception {
    cpuWorkers("busy", 1);
    List<CompletableFuture<Object>> futures = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      futures.add(scheduler.callEngineAsync("busy/0", "sleepWindow", null, QUICK, 3_000L));
    }
    List<long[]> windows = new ArrayList<>();
    for (CompletableFuture<Object> f : futures) {
      String[] w = ((String) f.get(60, TimeUnit.SECONDS)).split(",");
      windows.add(new long[] {Long.parseLong(w[0]), Long.parseLong(w[1])});
    }
    long latestStart = windows.stream().mapToLong(w -> w[0]).max().orElseThrow();
    long earliestEnd = windows.stream().mapToLong(w -> w[1]).min().orElseThrow();
    assertTrue(
        latestStart < earliestEnd,
        () ->
            "4 calls to one worker did not all run at once: "
                + windows.stream().map(java.util.Arrays::toString).toList());
  }

  @Test
  void engineExceptionIsAnEngineCallErrorAfterExactlyOneAttempt() {
    cpuWorkers("thrower", 1);
    EngineCallException e =
        assertThrows(
            EngineCallException.class,
            () ->
                scheduler.callEngine(
                    "thrower/0",
                    "fail",
                    "echo",
                    CallOptions.DEFAULT.withMaxRetries(3),
                    "disk full"));
    assertEquals(1, e.attempt());
    assertEquals("thrower/0", e.workerId());
    assertEquals("fail", e.method());
    assertEquals(IllegalStateException.class.getName(), e.remoteClass());
    assertEquals("disk full", e.remoteMessage());
    assertTrue(e.remoteStack().contains("EchoEngine.fail"), e.remoteStack());
    assertEquals(1, call("thrower/0", "calls"), "the engine ran the method once");
  }

  @Test
  void aCallThatTimedOutIsNotResubmittedAndRunsExactlyOnce() throws Exception {
    cpuWorkers("slow", 1);
    CallOptions options =
        CallOptions.DEFAULT
            .withTimeout(Duration.ofSeconds(1))
            .withMaxRetries(3)
            .withInitialBackoff(Duration.ofMillis(10));
    WorkerTimeoutException e =
        assertThrows(
            WorkerTimeoutException.class,
            () -> scheduler.callEngine("slow/0", "countedSleep", null, options, 3_000L));
    assertEquals(1, e.attempt());
    assertEquals("slow/0", e.workerId());
    // Let the one execution finish, and give a wrongly resubmitted one time to start.
    Thread.sleep(3_500);
    assertEquals(1, call("slow/0", "calls"), "the engine ran the 3 s method exactly once");
  }

  @Test
  void anIdempotentCallThatTimedOutIsResubmitted() throws Exception {
    cpuWorkers("retried", 1);
    CallOptions options =
        CallOptions.DEFAULT
            .withTimeout(Duration.ofSeconds(1))
            .withMaxRetries(2)
            .withInitialBackoff(Duration.ofMillis(10))
            .withIdempotent(true);
    WorkerTimeoutException e =
        assertThrows(
            WorkerTimeoutException.class,
            () -> scheduler.callEngine("retried/0", "countedSleep", null, options, 3_000L));
    assertEquals(3, e.attempt());
    Thread.sleep(3_500);
    assertEquals(3, call("retried/0", "calls"), "each of the three attempts reached the engine");
  }

  @Test
  void twoOneGpuRanksOpenDifferentPhysicalDevicesAndAForkOpensItsParents() {
    List<Worker> ranks =
        scheduler.createWorkers(
            Job.builder("gpus")
                .replicas(2)
                .task(
                    SchedulingSpec.builder()
                        .cpu(0.25)
                        .gpu(1)
                        .env(DeviceEngine.fakeCudaEnv(4))
                        .build())
                .build());
    for (Worker w : ranks) {
      scheduler.createEngine(w.id(), DeviceEngine.class.getName(), null);
    }
    String first = (String) call("gpus/0", "physicalId");
    String second = (String) call("gpus/1", "physicalId");
    assertNotEquals(first, second, "two 1-GPU ranks opened the same physical device");
    assertEquals(1, call("gpus/0", "deviceCount"), "a rank sees exactly its one device");
    assertEquals(1, ((List<?>) call("gpus/0", "assignedDevices")).size());

    scheduler.forkWorkers("gpus-fork", "gpus");
    for (int i = 0; i < 2; i++) {
      scheduler.createEngine("gpus-fork/" + i, DeviceEngine.class.getName(), null);
    }
    assertEquals(first, call("gpus-fork/0", "physicalId"), "a fork opens its parent's device");
    assertEquals(second, call("gpus-fork/1", "physicalId"));
    assertEquals(
        call("gpus/1", "assignedDevices"),
        call("gpus-fork/1", "assignedDevices"),
        "a fork is assigned its parent's device");
  }

  @Test
  void configureSetsRoleRankAndSeedForEnginesCreatedAfterwards() {
    List<Worker> workers = cpuWorkers("conf", 1);
    scheduler.configure(workers.get(0).id(), "critic", 7, 42L);
    scheduler.createEngine(workers.get(0).id(), EchoEngine.class.getName(), "second");
    assertEquals("critic", scheduler.callEngine("conf/0", "role", "second", QUICK));
    assertEquals(7, scheduler.callEngine("conf/0", "rank", "second", QUICK));
    assertEquals(42L, scheduler.callEngine("conf/0", "seed", "second", QUICK));
    assertEquals("conf", call("conf/0", "role"), "the engine created before keeps its context");
    assertThrows(
        WorkerNotFoundException.class, () -> scheduler.configure("conf/9", "critic", 0, 0L));
  }

  @Test
  void clearShardsSkipsADeadWorkerAndDrainsTheOthers() throws Exception {
    List<Worker> workers = new ArrayList<>();
    for (String role : List.of("producer", "consumer", "doomed")) {
      workers.addAll(
          scheduler.createWorkers(
              Job.builder(role).task(SchedulingSpec.builder().cpu(0.25).build()).build()));
    }
    for (Worker w : workers) {
      scheduler.createEngine(w.id(), TensorEngine.class.getName(), null);
    }
    RTensor handle = (RTensor) call("producer/0", "produce", 8);
    assertEquals(tokenSum(0, 8), call("consumer/0", "sumTokens", handle));
    assertEquals(tokenSum(0, 8), call("doomed/0", "sumTokens", handle));
    Object process = processOf("doomed/0");
    killWorker("doomed/0");
    assertGone(process);

    assertEquals(1, scheduler.clearShards(List.of(handle)), "the shard left its store");
    assertEquals(0, scheduler.workerMemory("producer/0").storedShards());
    assertEquals(0, scheduler.workerMemory("consumer/0").cachedShards(), "the live cache drained");
    assertThrows(WorkerFailedException.class, () -> call("doomed/0", "sumTokens", handle));
  }

  @Test
  void killedWorkerGivesWorkerFailedErrorAndTheOthersKeepServing() throws Exception {
    cpuWorkers("victim", 2);
    Object process = processOf("victim/0");
    killWorker("victim/0");
    assertGone(process);
    WorkerFailedException e =
        assertThrows(WorkerFailedException.class, () -> call("victim/0", "add", 1, 2));
    assertEquals("victim/0", e.workerId());
    assertThrows(
        WorkerFailedException.class, () -> scheduler.getWorkers("victim", Duration.ofSeconds(10)));
    assertEquals(3, call("victim/1", "add", 1, 2));
  }

  @Test
  void badInputGivesTypedErrorsAndLeavesTheWorkerUsable() {
    scheduler.createWorkers(
        Job.builder("bad").task(SchedulingSpec.builder().cpu(0.25).build()).build());
    assertThrows(WorkerNotFoundException.class, () -> call("bad/7", "add", 1, 2));
    assertThrows(WorkerNotFoundException.class, () -> call("nobody/0", "add", 1, 2));
    assertThrows(WorkerNotFoundException.class, () -> scheduler.deleteWorkers("nobody", false));

    EngineCallException noEngine =
        assertThrows(EngineCallException.class, () -> call("bad/0", "add", 1, 2));
    assertTrue(noEngine.getMessage().contains("no engine"), noEngine.getMessage());

    EngineCreationException missing =
        assertThrows(
            EngineCreationException.class,
            () -> scheduler.createEngine("bad/0", "io.rtensor.testing.engines.Missing", null));
    assertTrue(missing.getMessage().contains("not found"), missing.getMessage());
    EngineCreationException notEngine =
        assertThrows(
            EngineCreationException.class,
            () -> scheduler.createEngine("bad/0", "io.rtensor.testing.engines.NotAnEngine", null));
    assertTrue(notEngine.getMessage().contains("does not implement"), notEngine.getMessage());
    EngineCreationException throwing =
        assertThrows(
            EngineCreationException.class,
            () ->
                scheduler.createEngine("bad/0", "io.rtensor.testing.engines.ThrowingEngine", null));
    assertTrue(throwing.getMessage().contains("no model weights"), throwing.getMessage());
    assertNotNull(throwing.remoteStack());

    scheduler.createEngine("bad/0", EchoEngine.class.getName(), "echo");
    EngineCallException wrongEngine =
        assertThrows(
            EngineCallException.class,
            () -> scheduler.callEngine("bad/0", "add", "nope", QUICK, 1, 2));
    assertTrue(wrongEngine.getMessage().contains("nope"), wrongEngine.getMessage());
    EngineCallException noMethod =
        assertThrows(EngineCallException.class, () -> call("bad/0", "subtract", 1, 2));
    assertTrue(noMethod.getMessage().contains("candidates: none"), noMethod.getMessage());
    EngineCallException wrongTypes =
        assertThrows(EngineCallException.class, () -> call("bad/0", "add", 1, "b"));
    assertTrue(wrongTypes.getMessage().contains("add(int, int)"), wrongTypes.getMessage());
    EngineCallException unserializable =
        assertThrows(EngineCallException.class, () -> call("bad/0", "echo", new Thread()));
    assertEquals(1, unserializable.attempt());

    assertEquals(3, call("bad/0", "add", 1, 2), "the worker still serves calls");
  }

  @Test
  void invalidJobsAreRefusedBeforeAnythingStarts() {
    SchedulingSpec spec = SchedulingSpec.builder().build();
    assertThrows(
        WorkerCreationException.class,
        () -> scheduler.createWorkers(Job.builder("z").replicas(0).task(spec).build()));
    assertThrows(
        WorkerCreationException.class,
        () -> scheduler.createWorkers(Job.builder("z").replicas(3).task(spec).task(spec).build()));
    assertThrows(
        WorkerCreationException.class,
        () ->
            scheduler.createWorkers(
                Job.builder("z")
                    .replicas(2)
                    .task(spec)
                    .task(SchedulingSpec.builder().placement(PlacementStrategy.SEPARATE).build())
                    .build()));
    assertThrows(
        WorkerCreationException.class,
        () ->
            scheduler.createWorkers(
                Job.builder("z").strategy(SchedulingStrategy.colocation("absent")).build()));
    assertThrows(
        WorkerCreationException.class,
        () -> scheduler.createWorkers(Job.builder("a/b").task(spec).build()));
    cpuWorkers("twice", 1);
    assertThrows(
        WorkerCreationException.class,
        () -> scheduler.createWorkers(Job.builder("twice").task(spec).build()));
    assertThrows(
        WorkerCreationException.class,
        () ->
            scheduler.createWorkers(
                Job.builder("pair")
                    .replicas(2)
                    .strategy(SchedulingStrategy.colocation("twice"))
                    .build()));
    assertEquals(List.of("twice"), scheduler.roles());
  }

  @Test
  void deleteAllInReverseOrderEndsEveryRole() throws Exception {
    List<Object> processes = new ArrayList<>();
    for (String role : List.of("first", "second", "third")) {
      cpuWorkers(role, 1);
      processes.add(processOf(role + "/0"));
    }
    scheduler.deleteWorkers(null, true);
    assertTrue(scheduler.roles().isEmpty(), scheduler.roles().toString());
    for (Object process : processes) {
      assertGone(process);
    }
  }

  @Test
  void deleteAllInReverseOrderRemovesDependentRolesToo() throws Exception {
    cpuWorkers("base", 1);
    scheduler.createWorkers(
        Job.builder("alias").strategy(SchedulingStrategy.colocation("base")).build());
    Object process = processOf("base/0");
    scheduler.deleteWorkers("base", true);
    assertTrue(scheduler.roles().isEmpty(), "the alias went with its target: " + scheduler.roles());
    assertGone(process);
  }
}
