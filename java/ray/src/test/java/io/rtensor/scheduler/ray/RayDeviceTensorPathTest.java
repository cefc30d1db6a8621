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
 * Device tensors between Ray actors on each data plane and each fake device runtime: the actors
 * open the device Ray assigned them (made visible by {@code RayRpcServer}) and move a device tensor
 * with one DMA each way. On the Flight plane they keep their shards in page-locked memory; on the
 * object store plane the DMA writes into the object itself, page-locked for the copy (CUDA) or
 * through page-locked staging where the runtime cannot register host memory (Ascend).
 */
@Tag("ray")
class RayDeviceTensorPathTest {
  private static Scheduler onFlight(DeviceType type) {
    return onRay(DataPlaneKind.FLIGHT);
  }

  private static Scheduler onObjectStore(DeviceType type) {
    return onRay(DataPlaneKind.RAY_OBJECT_STORE);
  }

  private static Scheduler onRay(DataPlaneKind plane) {
    RayTestCluster.connect();
    return RayScheduler.builder().dataPlane(plane).startupTimeout(Duration.ofSeconds(90)).build();
  }

  @Nested
  class OnFakeCuda extends DeviceTensorPathContract {
    OnFakeCuda() {
      super(RuntimeKind.CUDA, RayDeviceTensorPathTest::onFlight);
    }
  }

  @Nested
  class OnFakeAscend extends DeviceTensorPathContract {
    OnFakeAscend() {
      super(RuntimeKind.ASCEND, RayDeviceTensorPathTest::onFlight);
    }
  }

  @Nested
  class OnFakeCudaObjectStore extends DeviceTensorPathContract {
    OnFakeCudaObjectStore() {
      super(RuntimeKind.CUDA, RayDeviceTensorPathTest::onObjectStore);
    }
  }

  @Nested
  class OnFakeAscendObjectStore extends DeviceTensorPathContract {
    OnFakeAscendObjectStore() {
      super(RuntimeKind.ASCEND, RayDeviceTensorPathTest::onObjectStore, true);
    }
  }
}
