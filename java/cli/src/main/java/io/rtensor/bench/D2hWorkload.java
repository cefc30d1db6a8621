package io.rtensor.bench;

import io.rtensor.device.ChunkedCopier;
import io.rtensor.device.Device;
import io.rtensor.device.DeviceBuffer;
import io.rtensor.device.DeviceRuntime;
import io.rtensor.device.DeviceRuntimes;
import io.rtensor.device.DeviceStream;
import io.rtensor.device.HostBuffer;
import io.rtensor.device.HostMemory;
import io.rtensor.device.RuntimeKind;
import io.rtensor.device.RuntimeUnavailableException;
import io.rtensor.device.arrow.PinnedAllocators;
import io.rtensor.device.arrow.PinnedBufferAllocator;
import java.util.Optional;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;

/**
 * Device-to-host copies of one device buffer: into a pinned Arrow buffer ({@link #pinnedArrow}: one
 * async copy; {@link #pinnedArrowChunked}: the chunked copier) and into pageable Arrow memory
 * through page-locked staging ({@link #pageableArrowStaged}), beside the baseline: the raw driver
 * copy ({@code cuMemcpyDtoHAsync}) into page-locked memory from {@code cuMemAllocHost} ({@link
 * #baselineRawPinned}, the call the C++ baseline {@code d2h_baseline} times). The claim: into
 * pinned Arrow memory at least 0.95x the baseline's throughput from 64 MiB.
 */
public final class D2hWorkload implements AutoCloseable {
  /** Throughput into pinned Arrow memory over the raw copy the project aims for (from 64 MiB). */
  public static final double GOAL = 0.95;

  private final long bytes;
  private final Device device;
  private final DeviceBuffer source;
  private final DeviceStream stream;
  private final ChunkedCopier copier;
  private final HostBuffer rawPinned;
  private final PinnedBufferAllocator pinnedAllocator;
  private final BufferAllocator pageableAllocator;
  private final ArrowBuf pinned;
  private final ArrowBuf pageable;

  /** Buffers of {@code bytes} on {@code device} and on the host, the device's filled. */
  public D2hWorkload(Device device, long bytes) {
    this.bytes = bytes;
    this.device = device;
    source = device.allocate(bytes);
    device.fill(source, 0, bytes, 0x5A);
    stream = device.createStream();
    copier = ChunkedCopier.create(device);
    rawPinned = device.allocateHost(bytes);
    pinnedAllocator = PinnedAllocators.create(device, bytes + (64L << 20));
    pageableAllocator = new RootAllocator(Long.MAX_VALUE);
    pinned = pinnedAllocator.buffer(bytes);
    pageable = pageableAllocator.buffer(bytes);
  }

  /** The first CUDA device, or why there is none. */
  public static Device cudaDevice() throws NoDeviceException {
    DeviceRuntime cuda;
    try {
      cuda = DeviceRuntimes.get(RuntimeKind.CUDA);
    } catch (RuntimeUnavailableException e) {
      throw new NoDeviceException(e.errorName() + ": " + e.errorText());
    }
    if (cuda.deviceCount() == 0) {
      throw new NoDeviceException("the CUDA driver loaded but sees no device");
    }
    return cuda.device(0);
  }

  /** The first CUDA device's name, if one is usable. */
  public static Optional<String> cudaDeviceName() {
    try {
      return Optional.of(cudaDevice().name());
    } catch (NoDeviceException e) {
      return Optional.empty();
    }
  }

  /** No CUDA device is usable; the message says why. */
  public static final class NoDeviceException extends Exception {
    private static final long serialVersionUID = 1L;

    NoDeviceException(String reason) {
      super(reason);
    }
  }

  /** The device. */
  public Device device() {
    return device;
  }

  /** Bytes of each copy. */
  public long bytes() {
    return bytes;
  }

  /** The baseline: one raw async copy into cuMemAllocHost / aclrtMallocHost memory. */
  public long baselineRawPinned() {
    device.copyToHostAsync(source, 0, rawPinned.memory(), 0, bytes, stream).close();
    return rawPinned.address();
  }

  /** One async copy into a pinned Arrow buffer. */
  public long pinnedArrow() {
    device.copyToHostAsync(source, 0, HostMemory.of(pinned), 0, bytes, stream).close();
    return pinned.memoryAddress();
  }

  /** The chunked copier into a pinned Arrow buffer. */
  public long pinnedArrowChunked() {
    copier.copyToHost(source, 0, HostMemory.of(pinned), 0, bytes);
    return pinned.memoryAddress();
  }

  /** The chunked copier into pageable Arrow memory through page-locked staging. */
  public long pageableArrowStaged() {
    copier.copyToHost(source, 0, HostMemory.of(pageable), 0, bytes);
    return pageable.memoryAddress();
  }

  /** Whether the first and last bytes of the pinned Arrow buffer hold the device's fill value. */
  public boolean pinnedCopiedRight() {
    return pinned.getByte(0) == 0x5A && pinned.getByte(bytes - 1) == 0x5A;
  }

  @Override
  public void close() {
    pinned.close();
    pageable.close();
    pinnedAllocator.close();
    pageableAllocator.close();
    rawPinned.close();
    copier.close();
    stream.close();
    source.close();
  }
}
