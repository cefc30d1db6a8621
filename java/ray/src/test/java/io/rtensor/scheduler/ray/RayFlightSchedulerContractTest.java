package io.rtensor.scheduler.ray;

import io.rtensor.scheduler.Scheduler;
import io.rtensor.testing.RayTestCluster;
import io.rtensor.transport.DataPlaneKind;
import java.time.Duration;
import org.junit.jupiter.api.Tag;

/**
 * The scheduler contract on Ray with the Flight data plane: workers serve their shards from Flight
 * stores on their node's address, and the controller remotizes into its own store.
 */
@Tag("ray")
class RayFlightSchedulerContractTest extends RaySchedulerContractTest {

  @Override
  protected Scheduler newScheduler() {
    RayTestCluster.connect();
    return RayScheduler.builder()
        .dataPlane(DataPlaneKind.FLIGHT)
        .startupTimeout(Duration.ofSeconds(90))
        .build();
  }
}
