package io.rtensor.transport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rtensor.handle.RTensor;
import io.rtensor.runtime.SessionSecret;
import io.rtensor.tensor.Tensor;
import io.rtensor.testing.FlightWorkerProcess;
import io.rtensor.testing.StoppedProcess;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * A Flight worker in a child JVM stopped with SIGSTOP: alive, its connections open, answering
 * nothing. Every call to it ends within its deadline with a typed error, the waiting threads are
 * freed, and once the worker continues the same plane fetches from it again.
 */
@Timeout(180)
class HungPeerTest {
  private static final String SECRET = SessionSecret.generate().value();
  private static final int SHARDS = 6;

  private static DataPlaneDeadlines deadlines(Duration stall, Duration base) {
    return DataPlaneDeadlines.DEFAULT
        .withStall(stall)
        .withOverall(base, 1L << 30)
        .withAction(Duration.ofSeconds(2));
  }

  private static List<Object> seedHandles(FlightWorkerProcess worker, long shardBytes) {
    List<Object> handles = new ArrayList<>();
    for (int i = 0; i < SHARDS; i++) {
      handles.add(
          RTensor.fromJson(
              "{\"shardId\":\"seed-"
                  + i
                  + "\",\"location\":\""
                  + worker.address()
                  + "\",\"kind\":\"TENSOR\",\"dtype\":\"float32\",\"shape\":["
                  + shardBytes / 4
                  + "],\"byteSize\":"
                  + shardBytes
                  + ",\"columns\":[\"tensor\"]}"));
    }
    return handles;
  }

  private static void assertNoThreadWaitsInAFetch() {
    for (Map.Entry<Thread, StackTraceElement[]> e : Thread.getAllStackTraces().entrySet()) {
      for (StackTraceElement frame : e.getValue()) {
        assertFalse(
            (frame.getClassName().endsWith("FlightShardClient")
                    || frame.getClassName().endsWith("BulkShardFetch")
                    || frame.getClassName().endsWith("SameNodeFetcher"))
                && frame.getMethodName().equals("get"),
            () -> "thread " + e.getKey().getName() + " still waits in a fetch");
      }
    }
  }

  /** The ways a fetch reaches a worker on this node, each with shards of a size that takes it. */
  enum Route {
    /** 256 KiB shards, two a request: DoGet. */
    DO_GET(256 << 10, false, "the peer is not answering ("),
    /** 4 MiB shards, two a request, shared memory off: the bulk side channel. */
    BULK(4 << 20, false, "on its bulk channel"),
    /** 4 MiB shards: the same-node socket and shared memory. */
    SAME_NODE(4 << 20, true, "on its same-node socket");

    final long shardBytes;
    final boolean sameNode;
    final String says;

    Route(long shardBytes, boolean sameNode, String says) {
      this.shardBytes = shardBytes;
      this.sameNode = sameNode;
      this.says = says;
    }
  }

  @ParameterizedTest
  @EnumSource(Route.class)
  void aFetchFromAStoppedWorkerStallsWithinItsDeadlineAndWorksAgainOnceItContinues(Route route)
      throws Exception {
    long shardBytes = route.shardBytes;
    try (FlightWorkerProcess worker =
            FlightWorkerProcess.start(
                SECRET,
                "--seed-shards",
                Integer.toString(SHARDS),
                "--shard-bytes",
                Long.toString(shardBytes));
        RootAllocator root = new RootAllocator();
        FlightDataPlane plane =
            FlightDataPlane.builder(root, SECRET)
                .shardsPerRequest(2)
                .sameNode(route.sameNode)
                .deadlines(deadlines(Duration.ofSeconds(3), Duration.ofSeconds(60)))
                .build()) {
      BufferAllocator allocator = root.newChildAllocator("test", 0, Long.MAX_VALUE);
      List<Object> handles = seedHandles(worker, shardBytes);
      warmUp(root, worker, handles);
      Remotizer r = new Remotizer(plane, null, allocator);
      closeAll(r.localize(handles)); // the connection is up before the worker stops

      try (StoppedProcess stopped = StoppedProcess.stop(worker.process().pid())) {
        long start = System.nanoTime();
        FetchStalledException e =
            assertThrows(FetchStalledException.class, () -> r.localize(handles));
        double seconds = (System.nanoTime() - start) / 1e9;
        System.out.printf("[hung peer] stalled fetch failed after %.2f s: %s%n", seconds, e);
        assertTrue(seconds >= 2.9 && seconds < 10, "failed after " + seconds + " s");
        assertEquals(worker.address(), e.location());
        assertTrue(e.getMessage().contains(worker.address()), e.getMessage());
        assertTrue(e.getMessage().contains("seed-"), e.getMessage());
        assertTrue(e.getMessage().contains(route.says), e.getMessage());
        assertTrue(
            e.shardIds().stream().allMatch(id -> id.startsWith("seed-")), e.shardIds()::toString);
        assertEquals(Duration.ofSeconds(3), e.waited());
        assertNoThreadWaitsInAFetch();
        assertEquals(0, allocator.getAllocatedMemory(), "nothing of the failed fetch is held");

        // A new connection to the stopped worker (the kernel accepts it; nothing answers).
        try (FlightDataPlane fresh =
            FlightDataPlane.builder(root, SECRET)
                .sameNode(route.sameNode)
                .deadlines(deadlines(Duration.ofSeconds(30), Duration.ofMillis(1500)))
                .build()) {
          start = System.nanoTime();
          FetchTimeoutException overall =
              assertThrows(
                  FetchTimeoutException.class,
                  () -> new Remotizer(fresh, null, allocator).localize(handles.get(0)));
          seconds = (System.nanoTime() - start) / 1e9;
          assertFalse(overall instanceof FetchStalledException, overall.toString());
          assertTrue(seconds >= 1.4 && seconds < 6, "failed after " + seconds + " s");
          assertTrue(overall.getMessage().contains("overall deadline"), overall.getMessage());
          start = System.nanoTime();
          DataPlaneTimeoutException stats =
              assertThrows(DataPlaneTimeoutException.class, () -> fresh.stats(worker.address()));
          seconds = (System.nanoTime() - start) / 1e9;
          assertTrue(seconds < 6, "stats failed after " + seconds + " s: " + stats);
        }
        assertNoThreadWaitsInAFetch();
      }

      // Continued: the same plane (same connection) fetches everything again, intact.
      Object back = r.localize(handles);
      List<?> tensors = (List<?>) back;
      assertEquals(SHARDS, tensors.size());
      assertEquals(shardBytes, ((Tensor) tensors.get(0)).byteSize());
      closeAll(back);
      assertEquals(0, allocator.getAllocatedMemory());
      allocator.close();
    }
  }

  @Test
  void aPutToAStoppedWorkerEndsWithinItsDeadline() throws Exception {
    try (FlightWorkerProcess worker = FlightWorkerProcess.start(SECRET);
        RootAllocator root = new RootAllocator();
        FlightDataPlane plane =
            FlightDataPlane.builder(root, SECRET)
                .putTarget(worker.address())
                .deadlines(deadlines(Duration.ofSeconds(2), Duration.ofSeconds(3)))
                .build();
        Tensor big =
            Tensor.allocate(
                root, io.rtensor.tensor.DType.UINT8, io.rtensor.tensor.Shape.of(64 << 20))) {
      warmUp(root, worker, List.of());
      try (Tensor small = Tensor.of(root, new int[] {1, 2, 3})) {
        Remotizer.remotize(small, plane); // connected
      }
      try (StoppedProcess stopped = StoppedProcess.stop(worker.process().pid())) {
        long start = System.nanoTime();
        assertThrows(DataPlaneTimeoutException.class, () -> Remotizer.remotize(big, plane));
        double seconds = (System.nanoTime() - start) / 1e9;
        System.out.printf("[hung peer] put failed after %.2f s%n", seconds);
        assertTrue(seconds < 10, "failed after " + seconds + " s");
      }
      try (Tensor small = Tensor.of(root, new int[] {4, 5})) {
        RTensor h = (RTensor) Remotizer.remotize(small, plane);
        try (Tensor back = (Tensor) new Remotizer(plane, null, root).localize(h)) {
          assertTrue(back.contentEquals(small));
        }
      }
    }
  }

  /**
   * Runs a put and a fetch on a fresh worker with the default deadlines: its first calls load and
   * compile the server's code, which on a loaded machine can take longer than the short stall
   * deadlines of these tests.
   */
  private static void warmUp(
      BufferAllocator root, FlightWorkerProcess worker, List<Object> handles) {
    try (FlightDataPlane plane =
            FlightDataPlane.builder(root, SECRET)
                .putTarget(worker.address())
                .deadlines(DataPlaneDeadlines.DEFAULT)
                .build();
        Tensor t = Tensor.of(root, new int[] {1})) {
      RTensor h = (RTensor) Remotizer.remotize(t, plane);
      Remotizer r = new Remotizer(plane, null, root);
      closeAll(r.localize(h));
      closeAll(r.localize(handles));
      plane.clear(List.of(h));
    }
  }

  private static void closeAll(Object value) {
    if (value instanceof Tensor t) {
      t.close();
    } else if (value instanceof List<?> l) {
      l.forEach(HungPeerTest::closeAll);
    }
  }
}
