package io.rtensor.scheduler.ray;

import io.rtensor.device.RuntimeKind;
import io.rtensor.scheduler.DeviceTensorPathContract;
import io.rtensor.scheduler.DeviceType;
import io.rtensor.scheduler.Scheduler;
import io.rtensor.testing.RayTestCluster;
import io.rtensor.transport.DataPlaneKind;
import java.time.Duration;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Tag;

/**
 * Device tensors between Ray actors on the Flight plane, on each fake device runtime: the actors
 * open the device Ray assigned them (made visible by {@code RayRpcServer}), keep their shards in
 * page-locked memory, and move a device tensor with one DMA each way.
 */
@Tag("ray")
class RayDeviceTensorPathTest {
  private static Scheduler onRay(DeviceType type) {
    RayTestCluster.connect();
    return RayScheduler.builder()
        .dataPlane(DataPlaneKind.FLIGHT)
        .startupTimeout(Duration.ofSeconds(90))
        .build();
  }

  @Nested
  class OnFakeCuda extends DeviceTensorPathContract {
    OnFakeCuda() {
      super(RuntimeKind.CUDA, RayDeviceTensorPathTest::onRay);
    }
  }

  @Nested
  class OnFakeAscend extends DeviceTensorPathContract {
    OnFakeAscend() {
      super(RuntimeKind.ASCEND, RayDeviceTensorPathTest::onRay);
    }
  }
}
