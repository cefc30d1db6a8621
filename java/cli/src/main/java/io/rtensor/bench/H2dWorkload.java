package io.rtensor.bench;

import io.rtensor.device.ChunkedCopier;
import io.rtensor.device.Device;
import io.rtensor.device.DeviceBuffer;
import io.rtensor.device.HostBuffer;
import io.rtensor.device.HostMemory;
import io.rtensor.device.RawDriverCopy;
import io.rtensor.device.arrow.PinnedAllocators;
import io.rtensor.device.arrow.PinnedBufferAllocator;
import io.rtensor.transport.SeededBytes;
import org.apache.arrow.memory.ArrowBuf;

/**
 * Host-to-device copies into one device buffer: from a pinned Arrow buffer with the chunked copier
 * ({@link #pinnedArrowChunked}, how a worker puts a received tensor on its device), beside the
 * baseline: the driver's own copy, called directly ({@link RawDriverCopy}: {@code
 * cuMemcpyHtoDAsync} and {@code cuStreamSynchronize}, none of rtensor's copy wrappers), from
 * page-locked memory of {@code cuMemAllocHost} ({@link #baselineRawPinned}). The claim: from pinned
 * Arrow memory at least 0.95x the baseline's throughput from 64 MiB. Both sources hold {@link
 * DeviceBytes seeded bytes}, which {@link #verify} checks on the device.
 */
public final class H2dWorkload implements CopyWorkload {
  /** Throughput from pinned Arrow memory over the raw copy the project aims for (from 64 MiB). */
  public static final double GOAL = 0.95;

  /** What the baseline is, for reports. */
  public static final String BASELINE =
      "cuMemcpyHtoDAsync + cuStreamSynchronize from cuMemAllocHost memory, direct driver calls";

  private static final long SEED = 0x42D;

  private final long bytes;
  private final Device device;
  private final DeviceBuffer target;
  private final ChunkedCopier copier;
  private final RawDriverCopy raw;
  private final HostBuffer rawPinned;
  private final PinnedBufferAllocator pinnedAllocator;
  private final ArrowBuf pinned;

  /** Buffers of {@code bytes} on {@code device} and on the host, the host's seeded. */
  public H2dWorkload(Device device, long bytes) {
    this.bytes = bytes;
    this.device = device;
    target = device.allocate(bytes);
    copier = ChunkedCopier.create(device);
    raw = RawDriverCopy.create(device);
    rawPinned = device.allocateHost(bytes);
    pinnedAllocator = PinnedAllocators.create(device, bytes + (64L << 20));
    pinned = pinnedAllocator.buffer(bytes);
    SeededBytes.fill(pinned.memoryAddress(), bytes, SEED);
    SeededBytes.fill(rawPinned.address(), bytes, SEED);
  }

  /** The device. */
  public Device device() {
    return device;
  }

  /** Bytes of each copy. */
  public long bytes() {
    return bytes;
  }

  /** The subject: the chunked copier from a pinned Arrow buffer. */
  public long pinnedArrowChunked() {
    copier.copyToDevice(HostMemory.of(pinned), 0, target, 0, bytes);
    return target.address();
  }

  /**
   * The baseline: one copy from cuMemAllocHost / aclrtMallocHost memory, the driver's entry points
   * called directly ({@link RawDriverCopy}).
   */
  public long baselineRawPinned() {
    raw.toDevice(rawPinned.memory(), 0, target, 0, bytes);
    return target.address();
  }

  /**
   * Runs the subject and the baseline once more each into a cleared device buffer and checks every
   * byte each put there (read back into page-locked memory).
   *
   * @throws IllegalStateException naming the copy whose bytes are wrong
   */
  public void verify() {
    try (HostBuffer readBack = device.allocateHost(bytes)) {
      device.fill(target, 0, bytes, 0);
      pinnedArrowChunked();
      device.copyToHost(target, 0, readBack.memory(), 0, bytes);
      DeviceBytes.check("the chunked copy from pinned Arrow memory", readBack.memory(), SEED);
      device.fill(target, 0, bytes, 0);
      baselineRawPinned();
      device.copyToHost(target, 0, readBack.memory(), 0, bytes);
      DeviceBytes.check("the raw driver copy", readBack.memory(), SEED);
    }
  }

  @Override
  public void close() {
    pinned.close();
    pinnedAllocator.close();
    rawPinned.close();
    raw.close();
    copier.close();
    target.close();
  }
}
