package io.rtensor.scheduler.ray;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rtensor.scheduler.CallOptions;
import io.rtensor.scheduler.EngineCallException;
import io.rtensor.scheduler.Job;
import io.rtensor.scheduler.SchedulingSpec;
import io.rtensor.testing.RayTestCluster;
import io.rtensor.testing.StoppedProcess;
import io.rtensor.testing.engines.TensorEngine;
import io.rtensor.transport.DataPlaneDeadlines;
import io.rtensor.transport.DataPlaneKind;
import java.time.Duration;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Worker to worker on the Ray scheduler with the Flight plane: an engine handed a handle to a shard
 * of a worker that is stopped (SIGSTOP) fails its call within the consumer's stall deadline, with
 * the typed error named, and the consumer answers its next calls; once the producer continues, the
 * same call works. (The object-store plane's case is {@code RayHungOwnerTest}.)
 */
@Tag("ray")
@Timeout(300)
class RayFlightHungPeerTest {

  @Test
  void aWorkerFetchingFromAStoppedWorkerFailsTheCallInBoundedTimeAndKeepsServing()
      throws Exception {
    RayTestCluster.connect();
    try (RayScheduler scheduler =
        RayScheduler.builder()
            .dataPlane(DataPlaneKind.FLIGHT)
            .startupTimeout(Duration.ofSeconds(120))
            .build()) {
      scheduler.createWorkers(
          Job.builder("producer").task(SchedulingSpec.builder().cpu(0.5).build()).build());
      scheduler.createWorkers(
          Job.builder("consumer")
              .task(
                  SchedulingSpec.builder()
                      .cpu(0.5)
                      .env(DataPlaneDeadlines.STALL_ENV, "3000")
                      .build())
              .build());
      for (String w : new String[] {"producer/0", "consumer/0"}) {
        scheduler.createEngine(w, TensorEngine.class.getName(), "data");
      }
      CallOptions options =
          CallOptions.DEFAULT.withTimeout(Duration.ofSeconds(120)).withMaxRetries(0);
      Object first = scheduler.callEngine("producer/0", "produce", "data", options, 64);
      Object second = scheduler.callEngine("producer/0", "produce", "data", options, 32);
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
        System.out.printf("[ray flight hung peer] call failed after %.2f s: %s%n", seconds, e);
        assertTrue(seconds >= 2.9 && seconds < 30, "failed after " + seconds + " s");
        assertTrue(
            (e.remoteClass() + e.getMessage()).contains("FetchStalledException"),
            e.remoteClass() + ": " + e.getMessage());
        // The consumer's threads are free: it answers at once, and a cached shard still localizes.
        start = System.nanoTime();
        assertEquals(
            consumerPid, (long) scheduler.callEngine("consumer/0", "pid", "data", options));
        assertEquals(
            sum64, (long) scheduler.callEngine("consumer/0", "sumTokens", "data", options, first));
        assertTrue((System.nanoTime() - start) / 1e9 < 15, "the consumer answered promptly");
      }

      long sum32 = (long) scheduler.callEngine("consumer/0", "sumTokens", "data", options, second);
      long expected = 0;
      for (int r = 0; r < 32; r++) {
        for (int c = 0; c < 4; c++) {
          expected += r * 10L + c;
        }
      }
      assertEquals(expected, sum32, "after the producer continues the same fetch works");
    }
  }
}
