package io.rtensor.scheduler.local;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rtensor.auth.SessionTls;
import io.rtensor.handle.RTensor;
import io.rtensor.runtime.SessionSecret;
import io.rtensor.scheduler.CallOptions;
import io.rtensor.scheduler.Job;
import io.rtensor.scheduler.SchedulingSpec;
import io.rtensor.scheduler.Worker;
import io.rtensor.tensor.Shape;
import io.rtensor.tensor.Tensor;
import io.rtensor.tensor.TensorBatch;
import io.rtensor.testing.engines.EchoEngine;
import io.rtensor.testing.engines.TensorEngine;
import io.rtensor.transport.DataPlaneTlsException;
import io.rtensor.transport.FlightDataPlane;
import io.rtensor.transport.FlightTlsMode;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.junit.jupiter.api.Test;

/** A local session with Flight over TLS: workers, the controller and their fetches all use it. */
class LocalSchedulerTlsTest {
  private static final CallOptions QUICK =
      CallOptions.DEFAULT.withTimeout(Duration.ofSeconds(60)).withMaxRetries(0);

  /** tokens[r][c] = r * 10 + c summed over rows [0, n): what TensorEngine.sumTokens returns. */
  private static long tokenSum(int n) {
    long sum = 0;
    for (int r = 0; r < n; r++) {
      sum += 4 * r * 10L + 6;
    }
    return sum;
  }

  @Test
  void workersFetchFromEachOtherAndTheControllerOverTls() throws Exception {
    assertEquals(FlightTlsMode.OFF, FlightTlsMode.fromEnvironment(), "the default is off");
    assertFalse(FlightTlsMode.AUTO.enabledFor("127.0.0.1"), "auto: loopback stays plaintext");
    assertTrue(FlightTlsMode.AUTO.enabledFor("10.0.0.7"));
    try (LocalScheduler scheduler = LocalScheduler.builder().flightTls(FlightTlsMode.ON).build()) {
      List<Worker> workers =
          scheduler.createWorkers(
              Job.builder("data").replicas(2).task(SchedulingSpec.builder().build()).build());
      for (Worker w : workers) {
        scheduler.createEngine(w.id(), TensorEngine.class.getName(), null);
        scheduler.createEngine(w.id(), EchoEngine.class.getName(), "echo");
      }
      // The identity reaches the worker in its environment, never on its command line.
      String identity =
          (String) scheduler.callEngine("data/0", "getenv", "echo", QUICK, SessionTls.ENV);
      assertTrue(identity != null && identity.startsWith("rtls1:"), "identity in the env");
      String commandLine =
          ProcessHandle.of(scheduler.pid("data/0")).orElseThrow().info().commandLine().orElse("");
      assertFalse(commandLine.contains(identity.substring(6, 40)), commandLine);

      // Worker to worker.
      RTensor handle =
          assertInstanceOf(
              RTensor.class, scheduler.callEngine("data/0", "produce", null, QUICK, 16));
      assertEquals(tokenSum(16), scheduler.callEngine("data/1", "sumTokens", null, QUICK, handle));
      // Worker to controller.
      try (TensorBatch local = (TensorBatch) scheduler.dataPlane().localize(handle)) {
        assertEquals(16, local.rows());
      }
      // Controller to worker.
      long[] tokens = new long[8 * 4];
      for (int r = 0; r < 8; r++) {
        for (int c = 0; c < 4; c++) {
          tokens[r * 4 + c] = r * 10L + c;
        }
      }
      Object remote;
      try (BufferAllocator mine = new RootAllocator();
          TensorBatch batch = TensorBatch.of("tokens", Tensor.of(mine, tokens, Shape.of(8, 4)))) {
        remote = scheduler.dataPlane().remotize(Map.of("batch", batch));
      }
      RTensor fromController = (RTensor) ((Map<?, ?>) remote).get("batch");
      assertEquals(
          tokenSum(8), scheduler.callEngine("data/1", "sumTokens", null, QUICK, fromController));

      // The worker's store does not speak plaintext.
      try (RootAllocator root = new RootAllocator();
          FlightDataPlane plaintext =
              FlightDataPlane.builder(root, SessionSecret.generate().value()).build()) {
        assertThrows(DataPlaneTlsException.class, () -> plaintext.fetch(List.of(handle), root));
        assertThrows(
            DataPlaneTlsException.class, () -> plaintext.fetch(List.of(fromController), root));
      }
      assertEquals(2, scheduler.clearShards(List.of(handle, remote)));
    }
  }
}
