package io.rtensor.transport.ray;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rtensor.handle.RTensor;
import io.rtensor.scheduler.CallOptions;
import io.rtensor.scheduler.EngineCallException;
import io.rtensor.scheduler.Job;
import io.rtensor.scheduler.SchedulingSpec;
import io.rtensor.scheduler.ray.RayScheduler;
import io.rtensor.tensor.TensorBatch;
import io.rtensor.testing.RayTestCluster;
import io.rtensor.testing.StoppedProcess;
import io.rtensor.testing.engines.TensorEngine;
import io.rtensor.transport.FetchTimeoutException;
import java.time.Duration;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Ray actors whose shards' owner is stopped (SIGSTOP): alive, holding the objects' ownership, and
 * answering nothing. A consumer actor's fetch fails within the object store plane's get timeout
 * (plus a short probe) with {@link FetchTimeoutException} naming the shards and their owner, not as
 * missing shards; the consumer answers its next call, and once the owner continues the same fetch
 * works.
 */
@Tag("ray")
@Timeout(600)
class RayHungOwnerTest {
  private static final Duration GET_TIMEOUT = Duration.ofSeconds(5);

  @Test
  void anActorFetchingFromAStoppedOwnerFailsWithinTheGetTimeoutAndKeepsServing() throws Exception {
    RayTestCluster.connect();
    try (RayScheduler scheduler =
        RayScheduler.builder()
            .startupTimeout(Duration.ofSeconds(120))
            .shardGetTimeout(GET_TIMEOUT)
            .build()) {
      for (String role : new String[] {"producer", "consumer"}) {
        scheduler.createWorkers(
            Job.builder(role).replicas(1).task(SchedulingSpec.builder().cpu(0.5).build()).build());
        scheduler.createEngine(role + "/0", TensorEngine.class.getName(), "data");
      }
      CallOptions options =
          CallOptions.DEFAULT.withTimeout(Duration.ofSeconds(120)).withMaxRetries(0);
      Object first = scheduler.callEngine("producer/0", "produce", "data", options, 64);
      Object second = scheduler.callEngine("producer/0", "produce", "data", options, 32);
      Object third = scheduler.callEngine("producer/0", "produce", "data", options, 16);
      long sum64 = (long) scheduler.callEngine("consumer/0", "sumTokens", "data", options, first);
      long consumerPid = (long) scheduler.callEngine("consumer/0", "pid", "data", options);
      long producerPid = (long) scheduler.callEngine("producer/0", "pid", "data", options);

      try (StoppedProcess stopped = StoppedProcess.stop(producerPid)) {
        long start = System.nanoTime();
        EngineCallException e =
            assertThrows(
                EngineCallException.class,
                () -> scheduler.callEngine("consumer/0", "sumTokens", "data", options, second));
        double seconds = (System.nanoTime() - start) / 1e9;
        System.out.printf("[ray hung owner] call failed after %.2f s: %s%n", seconds, e);
        double bound = GET_TIMEOUT.toSeconds() + RayObjectStorePlane.PROBE_BUDGET_MILLIS / 1e3;
        assertTrue(
            seconds >= GET_TIMEOUT.toSeconds() - 0.5 && seconds < bound + 10,
            "failed after " + seconds + " s");
        assertEquals(FetchTimeoutException.class.getName(), e.remoteClass(), e.getMessage());
        assertTrue(e.getMessage().contains(((RTensor) second).shardId()), e.getMessage());
        assertTrue(e.getMessage().contains("owner"), e.getMessage());
        // The consumer answers at once, and a shard it cached still localizes.
        start = System.nanoTime();
        assertEquals(
            consumerPid, (long) scheduler.callEngine("consumer/0", "pid", "data", options));
        assertEquals(
            sum64, (long) scheduler.callEngine("consumer/0", "sumTokens", "data", options, first));
        assertTrue((System.nanoTime() - start) / 1e9 < 10, "the consumer answered promptly");
        // The controller's own fetch ends within the same bound: with the bytes (the object may
        // be readable without its owner on this node) or with the same typed error.
        start = System.nanoTime();
        try (TensorBatch b = (TensorBatch) scheduler.dataPlane().localize(third)) {
          assertEquals(16, b.rows());
        } catch (FetchTimeoutException expected) {
          System.out.println("[ray hung owner] controller: " + expected);
        }
        seconds = (System.nanoTime() - start) / 1e9;
        assertTrue(seconds < bound + 10, "the controller's fetch ended after " + seconds + " s");
      }

      long sum32 = (long) scheduler.callEngine("consumer/0", "sumTokens", "data", options, second);
      assertEquals(20032, sum32, "after the owner continues the same fetch works");
    }
  }
}
