package io.rtensor.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rtensor.device.ChunkedCopier;
import io.rtensor.device.Device;
import io.rtensor.device.DeviceBuffer;
import io.rtensor.device.DeviceMemory;
import io.rtensor.device.HostMemory;
import io.rtensor.device.arrow.PinnedAllocators;
import io.rtensor.device.arrow.PinnedBufferAllocator;
import io.rtensor.tensor.DType;
import io.rtensor.tensor.DeviceTensor;
import io.rtensor.tensor.DeviceTensors;
import io.rtensor.tensor.Shape;
import io.rtensor.tensor.Tensor;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** arrow-rtensor tensors and GPU memory: one DMA into pinned Arrow memory, DLPack in place. */
@Tag("gpu")
@Order(3)
class CudaTensorTest {

  @Test
  void tensorIsFilledFromGpuMemoryWithOneCopyIntoPinnedMemory() {
    Device device = Gpu.cudaOrSkip().device(0);
    Shape shape = Shape.of(1024, 4097);
    long bytes = shape.byteSize(DType.FLOAT32);
    try (PinnedBufferAllocator pinned = PinnedAllocators.create(device, 2 * bytes);
        DeviceBuffer gpu = device.allocate(bytes)) {
      device.fill(gpu, 0, bytes, 0x3f);
      try (Tensor host = DeviceTensors.toHost(device, gpu, 0, DType.FLOAT32, shape, pinned)) {
        assertTrue(HostMemory.of(host.buffer()).pinned(), "the tensor is page-locked memory");
        float expected = Float.intBitsToFloat(0x3f3f3f3f);
        assertEquals(expected, (float) host.getDouble(0, 0));
        assertEquals(expected, (float) host.getDouble(1023, 4096));
        byte[] all = host.toByteArray();
        for (int i = 0; i < all.length; i++) {
          if (all[i] != 0x3f) {
            throw new AssertionError("byte " + i + " is " + all[i]);
          }
        }
      }
      try (ChunkedCopier copier = ChunkedCopier.create(device, 1 << 20, 4);
          Tensor chunked = DeviceTensors.toHost(copier, gpu, 0, DType.FLOAT32, shape, pinned)) {
        assertEquals(Float.intBitsToFloat(0x3f3f3f3f), (float) chunked.getDouble(512, 2048));
      }
    }
  }

  @Test
  void aDeviceTensorCrossesDlpackOnTheGpuInPlaceAndIsFreedByTheLastReference() {
    Device device = Gpu.cudaOrSkip().device(0);
    long liveBefore = DeviceMemory.liveCount();
    float[] values = new float[3 * 1000 + 1];
    for (int i = 0; i < values.length; i++) {
      values[i] = i * 0.5f - 11;
    }
    try (BufferAllocator allocator = new RootAllocator()) {
      long exported;
      long address;
      try (Tensor host = Tensor.of(allocator, values);
          DeviceTensor t = DeviceTensor.copyOf(device, host)) {
        address = t.address();
        exported = t.toDlpack();
      }
      assertEquals(liveBefore + 1, DeviceMemory.liveCount(), "the export keeps the GPU memory");
      try (DeviceTensor back = DeviceTensor.fromDlpack(exported);
          Tensor host = back.toHost(allocator)) {
        assertEquals(address, back.address());
        assertEquals(device, back.device());
        org.junit.jupiter.api.Assertions.assertArrayEquals(values, host.toFloatArray());
      }
    }
    assertEquals(liveBefore, DeviceMemory.liveCount(), "freed with the last reference");
  }
}
