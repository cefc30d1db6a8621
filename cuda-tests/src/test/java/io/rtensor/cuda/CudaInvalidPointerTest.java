package io.rtensor.cuda;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rtensor.device.Device;
import io.rtensor.device.DeviceBuffer;
import io.rtensor.device.DeviceException;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * A bad device pointer on a real GPU: a {@link DeviceException}, not a crash. Runs last (see
 * junit-platform.properties), in case a driver makes the error sticky for the context.
 */
@Tag("gpu")
@Order(Integer.MAX_VALUE)
class CudaInvalidPointerTest {

  @Test
  void anInvalidDevicePointerIsADeviceExceptionNotACrash() {
    Device gpu = Gpu.cudaOrSkip().device(0);
    try (BufferAllocator pageable = new RootAllocator(Long.MAX_VALUE);
        ArrowBuf out = pageable.buffer(4096)) {
      DeviceBuffer bogus = gpu.wrap(0x10, 4096);
      DeviceException e =
          assertThrows(DeviceException.class, () -> gpu.copyToHost(bogus, 0, out, 0, 4096));
      System.out.println("[cuda-tests] invalid pointer: " + e.getMessage());
      assertTrue(e.errorName().startsWith("CUDA_ERROR_"), e.errorName());
      bogus.close();
      try (DeviceBuffer ok = gpu.allocate(4096)) {
        gpu.copyToHost(ok, 0, out, 0, 4096);
      }
    }
  }
}
