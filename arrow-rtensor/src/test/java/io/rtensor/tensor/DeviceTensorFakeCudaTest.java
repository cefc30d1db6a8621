package io.rtensor.tensor;

import io.rtensor.device.Device;
import io.rtensor.device.DeviceRuntimes;
import io.rtensor.device.RuntimeKind;

/** Device tensors on the fake CUDA runtime (kDLCUDA). */
class DeviceTensorFakeCudaTest extends DeviceTensorContract {
  @Override
  Device device() {
    return DeviceRuntimes.get(RuntimeKind.CUDA).device(0);
  }

  @Override
  RuntimeKind producerKind() {
    return RuntimeKind.CUDA;
  }
}
