package io.rtensor.scheduler.local;

import io.rtensor.device.RuntimeKind;
import io.rtensor.scheduler.DeviceTensorPathContract;
import io.rtensor.scheduler.DeviceType;
import io.rtensor.scheduler.Scheduler;
import org.junit.jupiter.api.Nested;

/** Device tensors between the local scheduler's child workers, on each fake device runtime. */
class LocalDeviceTensorPathTest {
  private static Scheduler withThreeDevices(DeviceType type) {
    return LocalScheduler.builder().devices(type, 3).build();
  }

  @Nested
  class OnFakeCuda extends DeviceTensorPathContract {
    OnFakeCuda() {
      super(RuntimeKind.CUDA, LocalDeviceTensorPathTest::withThreeDevices);
    }
  }

  @Nested
  class OnFakeAscend extends DeviceTensorPathContract {
    OnFakeAscend() {
      super(RuntimeKind.ASCEND, LocalDeviceTensorPathTest::withThreeDevices);
    }
  }
}
