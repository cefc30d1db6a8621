package io.rtensor.tensor;

import io.rtensor.device.Device;
import io.rtensor.device.DeviceRuntimes;
import io.rtensor.device.RuntimeKind;

/**
 * Device tensors on the CPU backend (its DLPack tensors made by the fake CUDA runtime's producer,
 * as kDLCPU).
 */
class DeviceTensorCpuTest extends DeviceTensorContract {
  @Override
  Device device() {
    return DeviceRuntimes.cpu().device(0);
  }

  @Override
  RuntimeKind producerKind() {
    return RuntimeKind.CUDA;
  }
}
