package io.rtensor.tensor;

import io.rtensor.device.ChunkedCopier;
import io.rtensor.device.Device;
import io.rtensor.device.DeviceBuffer;
import io.rtensor.device.HostMemory;
import java.util.Objects;
import org.apache.arrow.memory.BufferAllocator;

/**
 * Tensors between device memory and Arrow memory. Copying to the host allocates the tensor from the
 * given allocator and lands the bytes there with one device-to-host copy: a DMA straight into the
 * Arrow buffer when the allocator is page-locked ({@code PinnedAllocators}), no host-side copy
 * either way.
 */
public final class DeviceTensors {
  private DeviceTensors() {}

  /**
   * A host tensor holding {@code shape.byteSize(dtype)} bytes read from {@code src} at {@code
   * srcOffset}.
   */
  public static Tensor toHost(
      Device device,
      DeviceBuffer src,
      long srcOffset,
      DType dtype,
      Shape shape,
      BufferAllocator allocator) {
    Objects.requireNonNull(device, "device");
    checkSource(src, srcOffset, shape.byteSize(dtype));
    Tensor tensor = Tensor.allocateUninitialized(allocator, dtype, shape);
    try {
      device.copyToHost(src, srcOffset, tensor.buffer(), 0, tensor.byteSize());
      return tensor;
    } catch (RuntimeException e) {
      tensor.close();
      throw e;
    }
  }

  /** {@link #toHost} through a pipelined, chunked copier (for large tensors). */
  public static Tensor toHost(
      ChunkedCopier copier,
      DeviceBuffer src,
      long srcOffset,
      DType dtype,
      Shape shape,
      BufferAllocator allocator) {
    Objects.requireNonNull(copier, "copier");
    checkSource(src, srcOffset, shape.byteSize(dtype));
    Tensor tensor = Tensor.allocateUninitialized(allocator, dtype, shape);
    try {
      if (tensor.byteSize() > 0) {
        copier.copyToHost(src, srcOffset, HostMemory.of(tensor.buffer()), 0, tensor.byteSize());
      }
      return tensor;
    } catch (RuntimeException e) {
      tensor.close();
      throw e;
    }
  }

  /** Refuses a read past the device buffer before anything is allocated. */
  private static void checkSource(DeviceBuffer src, long offset, long bytes) {
    Objects.requireNonNull(src, "source");
    if (offset < 0 || offset > src.size() || bytes > src.size() - offset) {
      throw new IndexOutOfBoundsException(
          "reading "
              + bytes
              + " bytes at offset "
              + offset
              + " of a "
              + src.size()
              + "-byte device buffer");
    }
  }

  /**
   * {@link #toDevice(Device, Tensor)} through a pipelined, chunked copier (for large tensors): a
   * tensor in page-locked Arrow memory feeds the DMAs directly, any other is staged once.
   */
  public static DeviceBuffer toDevice(ChunkedCopier copier, Tensor tensor) {
    Objects.requireNonNull(copier, "copier");
    DeviceBuffer buffer = copier.device().allocate(Math.max(1, tensor.byteSize()));
    try {
      if (tensor.byteSize() > 0) {
        copier.copyToDevice(HostMemory.of(tensor.data()), 0, buffer, 0, tensor.byteSize());
      }
      return buffer;
    } catch (RuntimeException e) {
      buffer.close();
      throw e;
    }
  }

  /** A new device buffer holding a copy of the tensor's bytes. The caller owns it. */
  public static DeviceBuffer toDevice(Device device, Tensor tensor) {
    Objects.requireNonNull(device, "device");
    DeviceBuffer buffer = device.allocate(Math.max(1, tensor.byteSize()));
    try {
      if (tensor.byteSize() > 0) {
        device.copyToDevice(HostMemory.of(tensor.data()), 0, buffer, 0, tensor.byteSize());
      }
      return buffer;
    } catch (RuntimeException e) {
      buffer.close();
      throw e;
    }
  }
}
