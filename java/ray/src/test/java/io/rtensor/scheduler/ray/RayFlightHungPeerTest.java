package io.rtensor.scheduler.ray;

import io.rtensor.scheduler.SchedulingSpec;
import io.rtensor.testing.HungPeerScenario;
import io.rtensor.testing.RayTestCluster;
import io.rtensor.transport.DataPlaneKind;
import java.time.Duration;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Worker to worker on the Ray scheduler with the Flight plane: the hung-peer scenario of the local
 * scheduler ({@link HungPeerScenario}). The object-store plane's case is {@code RayHungOwnerTest}.
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
      HungPeerScenario.run(scheduler, () -> SchedulingSpec.builder().cpu(0.5));
    }
  }
}
