package io.rtensor.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rtensor.device.ChunkedCopier;
import io.rtensor.device.Device;
import io.rtensor.device.DeviceBuffer;
import io.rtensor.device.DeviceRuntimes;
import io.rtensor.device.arrow.PinnedAllocators;
import io.rtensor.device.arrow.PinnedBufferAllocator;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Device round trips on the CPU backend (the GPU paths run in cuda-tests). */
class DeviceTensorsTest {
  private final Device device = DeviceRuntimes.cpu().device(0);
  private BufferAllocator allocator;

  @BeforeEach
  void open() {
    allocator = new RootAllocator();
  }

  @AfterEach
  void close() {
    allocator.close();
  }

  @Test
  void tensorRoundTripsThroughDeviceMemoryIntoPinnedArrowMemory() {
    float[] values = new float[3 * 1000 + 7];
    for (int i = 0; i < values.length; i++) {
      values[i] = i * 0.5f - 3;
    }
    try (PinnedBufferAllocator pinned = PinnedAllocators.create(device, 1 << 20);
        Tensor source = Tensor.of(allocator, values);
        DeviceBuffer onDevice = DeviceTensors.toDevice(device, source);
        Tensor back =
            DeviceTensors.toHost(device, onDevice, 0, DType.FLOAT32, source.shape(), pinned)) {
      assertArrayEquals(values, back.toFloatArray());
      assertTrue(
          pinned.getAllocatedMemory() >= source.byteSize(),
          "the host tensor lives in the pinned allocator: " + pinned.getAllocatedMemory());
      assertEquals(source.byteSize(), back.byteSize());
    }
  }

  @Test
  void chunkedCopyFillsATensorAcrossChunkBoundariesAtAnOffset() {
    long[] values = new long[10_001];
    for (int i = 0; i < values.length; i++) {
      values[i] = (long) i * 7919;
    }
    try (Tensor source = Tensor.of(allocator, values);
        DeviceBuffer onDevice = DeviceTensors.toDevice(device, source);
        ChunkedCopier copier = ChunkedCopier.create(device, 4096, 3);
        Tensor tail =
            DeviceTensors.toHost(
                copier, onDevice, 8 * 1000, DType.INT64, Shape.of(9_001), allocator)) {
      long[] expected = java.util.Arrays.copyOfRange(values, 1000, values.length);
      assertArrayEquals(expected, tail.toLongArray());
    }
  }

  @Test
  void chunkedCopyToTheDeviceAndBackIsExact() {
    int[] values = new int[25_003];
    for (int i = 0; i < values.length; i++) {
      values[i] = i * 31 - 7;
    }
    try (Tensor source = Tensor.of(allocator, values);
        ChunkedCopier copier = ChunkedCopier.create(device, 4096, 3);
        DeviceBuffer onDevice = DeviceTensors.toDevice(copier, source);
        Tensor back =
            DeviceTensors.toHost(copier, onDevice, 0, DType.INT32, source.shape(), allocator)) {
      assertArrayEquals(values, back.toIntArray());
    }
  }

  @Test
  void copyPastTheDeviceBufferIsRefusedAndAllocatesNothing() {
    try (Tensor source = Tensor.of(allocator, new int[] {1, 2, 3});
        DeviceBuffer onDevice = DeviceTensors.toDevice(device, source)) {
      long before = allocator.getAllocatedMemory();
      assertThrows(
          IndexOutOfBoundsException.class,
          () -> DeviceTensors.toHost(device, onDevice, 4, DType.INT32, Shape.of(3), allocator));
      assertEquals(before, allocator.getAllocatedMemory());
    }
  }
}
