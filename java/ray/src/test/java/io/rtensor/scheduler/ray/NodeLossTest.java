package io.rtensor.scheduler.ray;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.ray.api.ActorHandle;
import io.ray.api.ObjectRef;
import io.ray.api.PlacementGroups;
import io.ray.api.Ray;
import io.ray.api.exception.RayException;
import io.ray.api.placementgroup.PlacementGroup;
import io.ray.api.placementgroup.PlacementGroupState;
import io.rtensor.handle.RTensor;
import io.rtensor.scheduler.CallOptions;
import io.rtensor.scheduler.Job;
import io.rtensor.scheduler.PlacementStrategy;
import io.rtensor.scheduler.SchedulingSpec;
import io.rtensor.scheduler.Worker;
import io.rtensor.scheduler.WorkerFailedException;
import io.rtensor.tensor.Tensor;
import io.rtensor.tensor.TensorBatch;
import io.rtensor.testing.NodeActor;
import io.rtensor.testing.NodeEngine;
import io.rtensor.testing.RayHeadScript;
import io.rtensor.testing.RayTestCluster;
import io.rtensor.testing.ShardActor;
import io.rtensor.transport.MissingShardsException;
import io.rtensor.transport.Remotizer;
import io.rtensor.transport.ray.RayObjectStorePlane;
import io.rtensor.wire.DecodeLimits;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.apache.arrow.memory.RootAllocator;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Losing a node: {@code scripts/ray-head kill-node 2} SIGKILLs every process of the second node at
 * once (its raylet, object store, agents and worker JVMs) while calls to its workers and fetches of
 * its shards are in flight. Calls to its workers fail with {@link WorkerFailedException} and
 * fetches of its shards with {@link MissingShardsException} naming them, each within a bound well
 * under the 5-minute shard get timeout; the head keeps working; teardown leaves nothing. The second
 * node is started again afterwards, so the tests after this one still have two nodes.
 */
@Tag("ray")
class NodeLossTest {
  /**
   * How long after the SIGKILL a call to a worker of the lost node may take to fail. Ray learns
   * that the node is gone from its GCS's health checks (by default a check every 3 s, dead after 5
   * failed checks: about 15 s); the bound leaves room for a loaded machine.
   */
  static final Duration CALL_BOUND = Duration.ofSeconds(60);

  /** How long after the SIGKILL a fetch of a shard that lived on the lost node may take to fail. */
  static final Duration FETCH_BOUND = Duration.ofSeconds(60);

  /** The production default: how long a fetch waits for an object that does not arrive. */
  static final long SHARD_GET_TIMEOUT_MILLIS = Duration.ofMinutes(5).toMillis();

  private static final CallOptions LONG =
      CallOptions.DEFAULT.withTimeout(Duration.ofMinutes(10)).withMaxRetries(0);
  private static final CallOptions QUICK =
      CallOptions.DEFAULT.withTimeout(Duration.ofSeconds(120)).withMaxRetries(0);

  private static RayScheduler scheduler;
  private static RootAllocator root;
  private static RayObjectStorePlane plane;
  private static String head;
  private static String second;
  private static String secondNodeDir;
  private static boolean killed;

  @BeforeAll
  static void start() {
    RayTestCluster.connect();
    head = RayTestCluster.HEAD_IP;
    second = RayTestCluster.secondNodeIp();
    assertEquals(
        "127.0.0.2", second, "scripts/ray-head's node 2 (the one kill-node 2 kills) is the second");
    secondNodeDir = System.getenv("RTENSOR_RAY_TEMP_DIR") + "/node2/";
    scheduler =
        RayScheduler.builder().nGpusPerNode(4).startupTimeout(Duration.ofSeconds(240)).build();
    root = new RootAllocator();
    plane = new RayObjectStorePlane(DecodeLimits.DEFAULT, SHARD_GET_TIMEOUT_MILLIS);
  }

  @AfterAll
  static void restoreTheSecondNode() {
    try {
      if (scheduler != null) {
        scheduler.close();
      }
      if (plane != null) {
        plane.close();
      }
      if (root != null) {
        root.close();
      }
    } finally {
      if (killed) {
        RayHeadScript.runOk("start-node", "2");
        // The GCS has marked the killed raylet dead long before (the calls' failure waited for it).
        RayTestCluster.awaitAliveNodes(2, Duration.ofSeconds(120));
      }
    }
  }

  private static Object call(String workerId, String method, Object... args) {
    return scheduler.callEngine(workerId, method, null, QUICK, args);
  }

  /** The failure of {@code future} within {@code bound}; fails the test if it succeeds or hangs. */
  private static Throwable failureWithin(Future<?> future, Duration bound, String what)
      throws InterruptedException {
    try {
      Object value = future.get(bound.toMillis(), TimeUnit.MILLISECONDS);
      return fail(what + " succeeded after the node was lost: " + value);
    } catch (ExecutionException e) {
      return e.getCause();
    } catch (TimeoutException e) {
      return fail(
          what
              + " neither failed nor succeeded within "
              + bound.toSeconds()
              + " s of the node's loss: it waits for a longer timeout");
    }
  }

  private static long millisSince(long nanos) {
    return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - nanos);
  }

  private static <T> CompletableFuture<T> inThread(String name, Supplier<T> body) {
    CompletableFuture<T> future = new CompletableFuture<>();
    Thread thread =
        new Thread(
            () -> {
              try {
                future.complete(body.get());
              } catch (Throwable t) {
                future.completeExceptionally(t);
              }
            },
            name);
    thread.setDaemon(true);
    thread.start();
    return future;
  }

  /** A handle to the int64 shard a {@link NodeActor#slowShard} call will make. */
  private static RTensor pendingShard(ObjectRef<byte[]> ref, int n) {
    try (Tensor like = Tensor.of(root, new long[n]);
        TensorBatch description = TensorBatch.of(RTensor.TENSOR_COLUMN, like.share())) {
      return RayObjectStorePlane.handleOf(ref, description);
    }
  }

  private static List<RTensor> handles(List<Object> values) {
    return values.stream().map(v -> (RTensor) v).toList();
  }

  /** Processes whose command line names the second node's own directory (its sockets). */
  private static List<String> processesOfTheSecondNode() throws IOException {
    List<String> found = new ArrayList<>();
    try (Stream<Path> procs = Files.list(Path.of("/proc"))) {
      for (Path p : procs.filter(p -> p.getFileName().toString().matches("\\d+")).toList()) {
        try {
          String cmdline =
              new String(Files.readAllBytes(p.resolve("cmdline")), StandardCharsets.UTF_8)
                  .replace('\0', ' ');
          if (cmdline.contains(secondNodeDir)) {
            found.add(p.getFileName() + " " + cmdline);
          }
        } catch (IOException gone) {
          // the process ended while we looked
        }
      }
    }
    return found;
  }

  @Test
  void losingANodeFailsItsCallsAndFetchesWithinBoundsWhileTheHeadKeepsWorking() throws Exception {
    // A SHARED group of two 4-GPU ranks: one on each node.
    List<Worker> workers =
        scheduler.createWorkers(
            Job.builder("train")
                .replicas(2)
                .task(
                    SchedulingSpec.builder()
                        .cpu(0.5)
                        .gpu(4)
                        .placement(PlacementStrategy.SHARED)
                        .build())
                .build());
    String onHead = null;
    String onSecond = null;
    for (Worker w : workers) {
      scheduler.createEngine(w.id(), NodeEngine.class.getName(), null);
      String ip = (String) call(w.id(), "nodeIp");
      if (ip.equals(head)) {
        onHead = w.id();
      } else if (ip.equals(second)) {
        onSecond = w.id();
      }
    }
    assertTrue(onHead != null && onSecond != null, "a rank on each node: " + workers);
    final String lostWorker = onSecond;
    final String headWorker = onHead;
    List<PlacementGroup> groups =
        scheduler.placementGroupNames("train").stream()
            .map(g -> PlacementGroups.getPlacementGroup(g, Ray.getRuntimeContext().getNamespace()))
            .toList();

    // Shards stored on the second node by an actor there (never fetched before the loss), a shard
    // an actor there is still making, and an actor on the head.
    ActorHandle<ShardActor> producer =
        Ray.actor(ShardActor::new).setResource("node:" + second, 0.01).remote();
    ActorHandle<NodeActor> maker =
        Ray.actor(NodeActor::new).setResource("node:" + second, 0.01).remote();
    ActorHandle<ShardActor> consumer =
        Ray.actor(ShardActor::new).setResource("node:" + head, 0.01).remote();
    assertEquals(second, maker.task(NodeActor::nodeIp).remote().get(120_000));
    List<Object> storedOnSecond =
        producer.task(ShardActor::produce, 3, 1 << 18).remote().get(120_000);
    assertEquals(second, MultiNodeTest.nodeOfActor(producer));
    consumer.task(ShardActor::pid).remote().get(120_000);
    RTensor beingMade =
        pendingShard(maker.task(NodeActor::slowShard, 600_000L, 1000).remote(), 1000);
    RTensor beingMadeForTheHead =
        pendingShard(maker.task(NodeActor::slowShard, 600_000L, 1000).remote(), 1000);

    // In flight when the node goes: a long call on each node, a fetch by the driver and a fetch by
    // an actor on the head, both waiting for the shards being made.
    CompletableFuture<Object> longCallLost =
        scheduler.callEngineAsync(lostWorker, "sleep", null, LONG, 600_000L);
    CompletableFuture<Object> longCallHead =
        scheduler.callEngineAsync(headWorker, "sleep", null, LONG, 15_000L);
    CompletableFuture<Map<String, TensorBatch>> fetchInFlight =
        inThread("fetch-in-flight", () -> plane.fetch(List.of(beingMade), root));
    ObjectRef<Double> consumeInFlight =
        consumer.task(ShardActor::consume, List.<Object>of(beingMadeForTheHead)).remote();
    Thread.sleep(2_000);
    assertFalse(longCallLost.isDone(), "the long call is running");
    assertFalse(fetchInFlight.isDone(), "the fetch is waiting");

    long killedAt = System.nanoTime();
    String kill = RayHeadScript.runOk("kill-node", "2");
    killed = true;
    System.out.println("[node loss] " + kill.strip() + " (" + millisSince(killedAt) + " ms)");
    assertEquals(List.of(), processesOfTheSecondNode(), "no process of the second node is left");

    // The call in flight on the lost node: WorkerFailedException within the bound.
    Throwable callFailure = failureWithin(longCallLost, CALL_BOUND, "the call in flight");
    long callMillis = millisSince(killedAt);
    assertInstanceOf(WorkerFailedException.class, callFailure, () -> callFailure.toString());
    assertEquals(lostWorker, ((WorkerFailedException) callFailure).workerId());

    // The driver's fetch in flight: MissingShardsException naming the shard.
    Throwable fetchFailure =
        failureWithin(fetchInFlight, FETCH_BOUND, "the driver's fetch in flight");
    long fetchInFlightMillis = millisSince(killedAt);
    assertInstanceOf(MissingShardsException.class, fetchFailure, () -> fetchFailure.toString());
    assertEquals(
        List.of(beingMade.shardId()), ((MissingShardsException) fetchFailure).missingIds());

    // The head's actor's fetch in flight fails the same way (inside the actor).
    CompletableFuture<Double> consumeResult =
        inThread("consume-in-flight", () -> consumeInFlight.get(FETCH_BOUND.toMillis()));
    Throwable consumeFailure = failureWithin(consumeResult, FETCH_BOUND, "the head actor's fetch");
    long consumeMillis = millisSince(killedAt);
    assertInstanceOf(RayException.class, consumeFailure, () -> consumeFailure.toString());
    String consumeText = stackText(consumeFailure);
    assertTrue(
        consumeText.contains(MissingShardsException.class.getName())
            && consumeText.contains(beingMadeForTheHead.shardId()),
        consumeText);

    // A fetch, after the loss, of shards that lived on the lost node and were never fetched.
    long fetchStart = System.nanoTime();
    CompletableFuture<Map<String, TensorBatch>> fetchAfter =
        inThread("fetch-after", () -> plane.fetch(handles(storedOnSecond), root));
    Throwable afterFailure = failureWithin(fetchAfter, FETCH_BOUND, "the fetch after the loss");
    long fetchAfterMillis = millisSince(fetchStart);
    assertInstanceOf(MissingShardsException.class, afterFailure, () -> afterFailure.toString());
    assertEquals(
        new TreeSet<>(storedOnSecond.stream().map(ShardActor::idOf).toList()),
        new TreeSet<>(((MissingShardsException) afterFailure).missingIds()));

    // A new call to the lost worker fails at once.
    long callStart = System.nanoTime();
    WorkerFailedException again =
        assertThrows(WorkerFailedException.class, () -> call(lostWorker, "nodeIp"));
    long newCallMillis = millisSince(callStart);
    assertEquals(lostWorker, again.workerId());
    assertTrue(
        newCallMillis < 10_000, "a call to a known-dead worker fails fast: " + newCallMillis);

    System.out.printf(
        "[node loss] after the SIGKILL: the call in flight failed in %d ms, the driver's fetch in"
            + " flight in %d ms, the head actor's fetch in flight in %d ms; afterwards a fetch of"
            + " the lost node's shards failed in %d ms, a new call in %d ms%n",
        callMillis, fetchInFlightMillis, consumeMillis, fetchAfterMillis, newCallMillis);

    // The head keeps working: its rank's call in flight ends normally, new calls are answered,
    // shards move between its actors and the driver.
    assertEquals(head, longCallHead.get(60, TimeUnit.SECONDS));
    assertEquals(head, call(headWorker, "nodeIp"));
    List<Object> storedOnHead = consumer.task(ShardActor::produce, 2, 1000).remote().get(60_000);
    List<?> local = (List<?>) new Remotizer(plane, null, root).localize(storedOnHead);
    assertEquals(1001f, ((Tensor) local.get(1)).toFloatArray()[1]);
    local.forEach(t -> ((Tensor) t).close());
    assertEquals(2L, (long) consumer.task(ShardActor::clear, storedOnHead).remote().get(60_000));
    byte[] bytes = new byte[8 << 20];
    new Random(7).nextBytes(bytes);
    assertArrayEquals(bytes, Ray.put(bytes).get(60_000));

    // Teardown of the role that lost a rank: its workers and its group go. (Until its group is
    // removed, Ray tries to place the lost bundle again before any other group: a new role would
    // wait for it.)
    long teardownStart = System.nanoTime();
    scheduler.deleteWorkers("train", false);
    long teardownMillis = millisSince(teardownStart);
    System.out.printf(
        "[node loss] deleting the role that lost a rank took %d ms%n", teardownMillis);
    assertTrue(teardownMillis < CALL_BOUND.toMillis(), "teardown is bounded: " + teardownMillis);
    for (PlacementGroup g : groups) {
      assertEquals(
          PlacementGroupState.REMOVED,
          PlacementGroups.getPlacementGroup(g.getId()).getState(),
          g.getName());
    }

    // Then a new role starts on the head and answers.
    List<Worker> after =
        scheduler.createWorkers(
            Job.builder("after").task(SchedulingSpec.builder().cpu(0.5).gpu(1).build()).build());
    scheduler.createEngine(after.get(0).id(), NodeEngine.class.getName(), null);
    assertEquals(head, call(after.get(0).id(), "nodeIp"));
    List<String> afterGroups = scheduler.placementGroupNames("after");
    scheduler.deleteWorkers(null, false);
    assertTrue(scheduler.roles().isEmpty());
    assertEquals(1, afterGroups.size());

    consumer.kill();
    producer.kill();
    maker.kill();
    assertEquals(List.of(), processesOfTheSecondNode(), "no process of the second node is left");
    String status = RayHeadScript.run("status").output();
    assertTrue(status.contains("node 2 " + second + " DOWN"), status);
    Set<String> ips = new TreeSet<>();
    RayTestCluster.aliveNodes().forEach(n -> ips.add(n.nodeAddress));
    assertEquals(Set.of(head), ips, "the GCS lists only the head alive");
  }

  private static String stackText(Throwable t) {
    StringBuilder text = new StringBuilder();
    for (Throwable c = t; c != null; c = c.getCause()) {
      text.append(c).append('\n');
    }
    return text.toString();
  }
}
