package io.rtensor.transport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rtensor.scheduler.CallOptions;
import io.rtensor.scheduler.EngineCallException;
import io.rtensor.scheduler.Job;
import io.rtensor.scheduler.SchedulingSpec;
import io.rtensor.scheduler.local.LocalScheduler;
import io.rtensor.testing.StoppedProcess;
import io.rtensor.testing.engines.TensorEngine;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Worker to worker on the local scheduler: an engine handed a handle to a shard of a worker that is
 * stopped (SIGSTOP) fails its call within the consumer's stall deadline, with the typed error
 * named, and the consumer answers its next calls; once the producer continues, the same call works.
 */
@Timeout(240)
class WorkerHungPeerTest {

  @Test
  void aWorkerFetchingFromAStoppedWorkerFailsTheCallInBoundedTimeAndKeepsServing()
      throws Exception {
    try (LocalScheduler scheduler = LocalScheduler.builder().build()) {
      scheduler.createWorkers(
          Job.builder("producer").replicas(1).task(SchedulingSpec.builder().build()).build());
      scheduler.createWorkers(
          Job.builder("consumer")
              .replicas(1)
              .task(SchedulingSpec.builder().env(DataPlaneDeadlines.STALL_ENV, "3000").build())
              .build());
      for (String w : new String[] {"producer/0", "consumer/0"}) {
        scheduler.createEngine(w, TensorEngine.class.getName(), "data");
      }
      CallOptions options = CallOptions.DEFAULT.withTimeout(Duration.ofSeconds(120));
      Object first = scheduler.callEngine("producer/0", "produce", "data", options, 64);
      Object second = scheduler.callEngine("producer/0", "produce", "data", options, 32);
      long sum64 = (long) scheduler.callEngine("consumer/0", "sumTokens", "data", options, first);
      long consumerPid = (long) scheduler.callEngine("consumer/0", "pid", "data", options);
      long producerPid = (long) scheduler.callEngine("producer/0", "pid", "data", options);
      assertEquals(scheduler.pid("producer/0"), producerPid);

      try (StoppedProcess stopped = StoppedProcess.stop(producerPid)) {
        for (int attempt = 0; attempt < 2; attempt++) {
          long start = System.nanoTime();
          EngineCallException e =
              assertThrows(
                  EngineCallException.class,
                  () -> scheduler.callEngine("consumer/0", "sumTokens", "data", options, second));
          double seconds = (System.nanoTime() - start) / 1e9;
          System.out.printf("[worker hung peer] call failed after %.2f s: %s%n", seconds, e);
          assertTrue(seconds >= 2.9 && seconds < 20, "failed after " + seconds + " s");
          assertTrue(
              (e.remoteClass() + e.getMessage()).contains(FetchStalledException.class.getName())
                  || (e.remoteClass() + e.getMessage()).contains("FetchStalledException"),
              e.remoteClass() + ": " + e.getMessage());
          assertTrue(e.getMessage().contains("no bytes from"), e.getMessage());
          // The consumer's threads are free: it answers at once.
          start = System.nanoTime();
          assertEquals(
              consumerPid, (long) scheduler.callEngine("consumer/0", "pid", "data", options));
          assertEquals(
              sum64,
              (long) scheduler.callEngine("consumer/0", "sumTokens", "data", options, first),
              "a cached shard still localizes");
          assertTrue((System.nanoTime() - start) / 1e9 < 10, "the consumer answered promptly");
        }
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
