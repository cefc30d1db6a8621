package io.rtensor.bench;

import io.rtensor.device.ChunkedCopier;
import io.rtensor.device.Device;
import io.rtensor.device.DeviceBuffer;
import io.rtensor.device.DeviceRuntime;
import io.rtensor.device.DeviceRuntimes;
import io.rtensor.device.DeviceStream;
import io.rtensor.device.HostBuffer;
import io.rtensor.device.HostMemory;
import io.rtensor.device.RawDriverCopy;
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
 * through page-locked staging ({@link #pageableArrowStaged}), beside the baseline: the driver's own
 * copy, called directly ({@link RawDriverCopy}: {@code cuMemcpyDtoHAsync} and {@code
 * cuStreamSynchronize}, none of rtensor's copy wrappers), into page-locked memory from {@code
 * cuMemAllocHost} ({@link #baselineRawPinned}, the calls the C++ baseline {@code d2h_baseline}
 * times). The claim: into pinned Arrow memory at least 0.95x the baseline's throughput from 64 MiB.
 * The device buffer holds {@link DeviceBytes seeded bytes}, which {@link #verify} checks.
 */
public final class D2hWorkload implements CopyWorkload {
  /** Throughput into pinned Arrow memory over the raw copy the project aims for (from 64 MiB). */
  public static final double GOAL = 0.95;

  /** What the baseline is, for reports. */
  public static final String BASELINE =
      "cuMemcpyDtoHAsync + cuStreamSynchronize into cuMemAllocHost memory, direct driver calls";

  private static final long SEED = 0xD2D2;

  private final long bytes;
  private final Device device;
  private final DeviceBuffer source;
  private final DeviceStream stream;
  private final ChunkedCopier copier;
  private final RawDriverCopy raw;
  private final HostBuffer rawPinned;
  private final PinnedBufferAllocator pinnedAllocator;
  private final BufferAllocator pageableAllocator;
  private final ArrowBuf pinned;
  private final ArrowBuf pageable;

  /** Buffers of {@code bytes} on {@code device} and on the host, the device's seeded. */
  public D2hWorkload(Device device, long bytes) {
    this.bytes = bytes;
    this.device = device;
    source = device.allocate(bytes);
    stream = device.createStream();
    copier = ChunkedCopier.create(device);
    raw = RawDriverCopy.create(device);
    rawPinned = device.allocateHost(bytes);
    pinnedAllocator = PinnedAllocators.create(device, bytes + (64L << 20));
    pageableAllocator = new RootAllocator(Long.MAX_VALUE);
    pinned = pinnedAllocator.buffer(bytes);
    pageable = pageableAllocator.buffer(bytes);
    DeviceBytes.seed(device, rawPinned.memory(), source, SEED);
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

  /**
   * The first CUDA device's name, if one is usable; a fake runtime's says so ({@code "... (fake
   * CUDA runtime: correctness checks only)"}).
   */
  public static Optional<String> cudaDeviceName() {
    try {
      Device device = cudaDevice();
      return Optional.of(
          device.name()
              + (device.runtime().isFake() ? " (fake CUDA runtime: correctness checks only)" : ""));
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

  /**
   * The baseline: one copy into cuMemAllocHost / aclrtMallocHost memory, the driver's entry points
   * called directly ({@link RawDriverCopy}).
   */
  public long baselineRawPinned() {
    raw.toHost(source, 0, rawPinned.memory(), 0, bytes);
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

  /**
   * Runs the subject ({@link #pinnedArrowChunked}) and the baseline once more each into cleared
   * memory and checks every byte they wrote against the device's seeded bytes.
   *
   * @throws IllegalStateException naming the copy whose bytes are wrong
   */
  public void verify() {
    DeviceBytes.clear(HostMemory.of(pinned));
    pinnedArrowChunked();
    DeviceBytes.check("the chunked copy into pinned Arrow memory", HostMemory.of(pinned), SEED);
    DeviceBytes.clear(rawPinned.memory());
    baselineRawPinned();
    DeviceBytes.check("the raw driver copy", rawPinned.memory(), SEED);
  }

  @Override
  public void close() {
    pinned.close();
    pageable.close();
    pinnedAllocator.close();
    pageableAllocator.close();
    rawPinned.close();
    raw.close();
    copier.close();
    stream.close();
    source.close();
  }
}
