package io.rtensor.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rtensor.scheduler.CallOptions;
import io.rtensor.scheduler.EngineCallException;
import io.rtensor.scheduler.Job;
import io.rtensor.scheduler.Scheduler;
import io.rtensor.scheduler.SchedulingSpec;
import io.rtensor.testing.engines.TensorEngine;
import io.rtensor.transport.DataPlaneDeadlines;
import io.rtensor.transport.FetchStalledException;
import java.time.Duration;
import java.util.function.Supplier;

/**
 * Worker to worker with a hung producer, on any scheduler whose plane serves shards from the
 * producer's process: an engine handed a handle to a shard of a worker that is stopped (SIGSTOP)
 * fails its call within the consumer's stall deadline (3 s), with the typed error named, and the
 * consumer answers its next calls; once the producer continues, the same call works.
 */
public final class HungPeerScenario {
  private HungPeerScenario() {}

  /**
   * Creates {@code producer/0} and {@code consumer/0} from {@code spec} (the consumer with a 3 s
   * stall deadline), each with a {@link TensorEngine} named {@code data}, and runs the scenario.
   */
  public static void run(Scheduler scheduler, Supplier<SchedulingSpec.Builder> spec)
      throws Exception {
    scheduler.createWorkers(Job.builder("producer").replicas(1).task(spec.get().build()).build());
    scheduler.createWorkers(
        Job.builder("consumer")
            .replicas(1)
            .task(spec.get().env(DataPlaneDeadlines.STALL_ENV, "3000").build())
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

    try (StoppedProcess stopped = StoppedProcess.stop(producerPid)) {
      for (int attempt = 0; attempt < 2; attempt++) {
        long start = System.nanoTime();
        EngineCallException e =
            assertThrows(
                EngineCallException.class,
                () -> scheduler.callEngine("consumer/0", "sumTokens", "data", options, second));
        double seconds = (System.nanoTime() - start) / 1e9;
        System.out.printf("[hung peer] call failed after %.2f s: %s%n", seconds, e);
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
