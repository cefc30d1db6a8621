package io.rtensor.transport;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.rtensor.scheduler.CallOptions;
import io.rtensor.scheduler.SchedulingSpec;
import io.rtensor.scheduler.local.LocalScheduler;
import io.rtensor.testing.HungPeerScenario;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Worker to worker on the local scheduler: an engine handed a handle to a shard of a worker that is
 * stopped (SIGSTOP) fails its call within the consumer's stall deadline, with the typed error
 * named, and the consumer answers its next calls; once the producer continues, the same call works
 * ({@link HungPeerScenario}).
 */
@Timeout(240)
class WorkerHungPeerTest {

  @Test
  void aWorkerFetchingFromAStoppedWorkerFailsTheCallInBoundedTimeAndKeepsServing()
      throws Exception {
    try (LocalScheduler scheduler = LocalScheduler.builder().build()) {
      HungPeerScenario.run(scheduler, SchedulingSpec::builder);
      // The pid the engine reported (and the scenario stopped) is the worker's process.
      assertEquals(
          scheduler.pid("producer/0"),
          (long) scheduler.callEngine("producer/0", "pid", "data", CallOptions.DEFAULT));
    }
  }
}
