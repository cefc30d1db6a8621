package io.rtensor.tensor;

import io.rtensor.device.Device;
import io.rtensor.device.DeviceRuntimes;
import io.rtensor.device.RuntimeKind;

/** Device tensors on the fake Ascend runtime (kDLAscend). */
class DeviceTensorFakeAclTest extends DeviceTensorContract {
  @Override
  Device device() {
    return DeviceRuntimes.get(RuntimeKind.ASCEND).device(0);
  }

  @Override
  RuntimeKind producerKind() {
    return RuntimeKind.ASCEND;
  }
}
