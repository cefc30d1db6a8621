package io.rtensor.device;

import io.rtensor.device.internal.DeviceOps;
import java.util.Objects;

/**
 * Copies made the way a program calling the device runtime itself makes them: the device's context
 * made current, one asynchronous copy queued on a stream and the stream synchronized, each a direct
 * call of the runtime's entry point as the loader resolved it (CUDA: {@code cuCtxSetCurrent},
 * {@code cuMemcpyDtoHAsync} or {@code cuMemcpyHtoDAsync}, {@code cuStreamSynchronize}), with none
 * of rtensor's copy machinery in between: no {@link CopyHandle}, no event, no context bookkeeping.
 * The baseline benchmarks time rtensor's copies against; move data with {@link Device} and {@link
 * ChunkedCopier}. Ranges are checked here, in Java, before the native call, as a careful caller of
 * the driver checks them. Owns its stream; one copy at a time.
 */
public final class RawDriverCopy implements AutoCloseable {
  private final Device device;
  private final DeviceStream stream;
  private final long context;

  private RawDriverCopy(Device device, DeviceStream stream, long context) {
    this.device = device;
    this.stream = stream;
    this.context = context;
  }

  /** Raw copies on {@code device}, on a stream of their own. */
  public static RawDriverCopy create(Device device) {
    Objects.requireNonNull(device, "device");
    long[] context = new long[1];
    device
        .nativeRuntime()
        .check(
            DeviceOps.raw_context(device.backend(), device.index(), context),
            "rawContext",
            device.index(),
            -1);
    return new RawDriverCopy(device, device.createStream(), context[0]);
  }

  /** The device. */
  public Device device() {
    return device;
  }

  /**
   * The runtime calls one copy of {@code kind}'s runtime makes, e.g. {@code cuMemcpyDtoHAsync +
   * cuStreamSynchronize}, for the benchmark reports that name their baselines.
   */
  public static String calls(RuntimeKind kind, boolean toDevice) {
    return switch (kind) {
      case CUDA ->
          (toDevice ? "cuMemcpyHtoDAsync" : "cuMemcpyDtoHAsync") + " + cuStreamSynchronize";
      case ASCEND -> "aclrtMemcpyAsync + aclrtSynchronizeStream";
      case CPU -> "memmove";
    };
  }

  /** Copies device memory to host memory: one raw async copy and a stream synchronize. */
  public void toHost(DeviceBuffer src, long srcOffset, HostMemory dst, long dstOffset, long bytes) {
    device.checkOwn(src, "source");
    Objects.requireNonNull(dst, "destination");
    Ranges.check("source", srcOffset, bytes, src.size());
    Ranges.check("destination", dstOffset, bytes, dst.size());
    copy(DeviceOps.COPY_D2H, dst.address() + dstOffset, src.address() + srcOffset, bytes);
  }

  /** Copies host memory to device memory: one raw async copy and a stream synchronize. */
  public void toDevice(
      HostMemory src, long srcOffset, DeviceBuffer dst, long dstOffset, long bytes) {
    device.checkOwn(dst, "destination");
    Objects.requireNonNull(src, "source");
    Ranges.check("source", srcOffset, bytes, src.size());
    Ranges.check("destination", dstOffset, bytes, dst.size());
    copy(DeviceOps.COPY_H2D, dst.address() + dstOffset, src.address() + srcOffset, bytes);
  }

  private void copy(int kind, long dst, long src, long bytes) {
    stream.checkOpen();
    if (bytes == 0) {
      return;
    }
    device
        .nativeRuntime()
        .check(
            DeviceOps.raw_copy_sync(
                device.backend(), device.index(), kind, context, dst, src, bytes, stream.handle()),
            kind == DeviceOps.COPY_D2H ? "rawMemcpyDtoHAsync" : "rawMemcpyHtoDAsync",
            device.index(),
            bytes);
  }

  /** Destroys the stream; idempotent. */
  @Override
  public void close() {
    stream.close();
  }
}
