package io.rtensor.tensor;

import io.rtensor.device.ChunkedCopier;
import io.rtensor.device.Device;
import io.rtensor.device.DeviceBuffer;
import io.rtensor.device.DeviceException;
import io.rtensor.device.HostMemory;
import io.rtensor.device.HostRegistration;
import io.rtensor.device.RuntimeKind;
import java.util.IdentityHashMap;
import java.util.Map;
import java.util.Objects;
import org.apache.arrow.memory.ArrowBuf;

/**
 * The pipelined copiers of one process, one {@link ChunkedCopier} per device, made on first use:
 * device tensors into host memory and host tensors onto a device, each byte crossing the bus once.
 * Host memory that is page-locked ({@code io.rtensor.device.arrow}) takes the chunks' DMAs
 * directly; pageable memory as {@link PageableTarget} says. Copies on one device run one at a time
 * (the copier's own rule), copies on different devices in parallel. Owns its copiers, and counts
 * the copies they made ({@link #copiedToHost()}, {@link #copiedToDevice()}).
 */
public final class DeviceCopiers implements AutoCloseable {
  private final Map<Device, ChunkedCopier> copiers = new IdentityHashMap<>();
  private final Counter copiesToHost = new Counter();
  private final Counter copiesToDevice = new Counter();
  private final Counter copiesOnDevice = new Counter();
  private boolean closed;

  /**
   * The copies of one direction made so far: how many, their bytes, and the time spent in them
   * (summed over copies, which on different devices may overlap).
   */
  public record Totals(long copies, long bytes, long nanos) {}

  /** Device-to-host copies made so far ({@link #copyToHost}). */
  public Totals copiedToHost() {
    return copiesToHost.read();
  }

  /** Host-to-device copies made so far ({@link #toDevice}). */
  public Totals copiedToDevice() {
    return copiesToDevice.read();
  }

  /** Device-to-device copies made so far ({@link #copyOnDevice}). */
  public Totals copiedOnDevice() {
    return copiesOnDevice.read();
  }

  /** The copier of {@code device}, made with the defaults on first use. */
  public synchronized ChunkedCopier copier(Device device) {
    Objects.requireNonNull(device, "device");
    if (closed) {
      throw new IllegalStateException("device copiers are closed");
    }
    return copiers.computeIfAbsent(device, ChunkedCopier::create);
  }

  /**
   * How a device-to-host copy reaches host memory that is not page-locked (a Ray object store
   * object, a shared-memory segment): {@link #REGISTER} or {@link #STAGE}. The default is {@code
   * REGISTER}; the system property {@value #PAGEABLE_TARGET_PROPERTY} ({@code register} or {@code
   * stage}) chooses for a process.
   */
  public enum PageableTarget {
    /**
     * The target range is page-locked for the copy ({@code cuMemHostRegister}), the chunks' DMAs
     * write straight into it, and it is unlocked again: one DMA, no host copy. Copies under {@link
     * #REGISTER_MIN_BYTES}, runtimes without host registration (Ascend) and ranges the runtime
     * refuses to register are staged instead.
     */
    REGISTER,
    /**
     * Through the copier's page-locked staging slots: each chunk a DMA and a host copy, the two
     * overlapped.
     */
    STAGE
  }

  /** The system property that chooses {@link PageableTarget} for a process. */
  public static final String PAGEABLE_TARGET_PROPERTY = "rtensor.device.pageable-target";

  /** The smallest copy into pageable memory that {@link PageableTarget#REGISTER} registers. */
  public static final long REGISTER_MIN_BYTES = 1L << 20;

  private final PageableTarget pageableTarget;

  /** Copiers whose copies into pageable memory follow {@link #PAGEABLE_TARGET_PROPERTY}. */
  public DeviceCopiers() {
    this(pageableTargetFromProperty());
  }

  /** Copiers whose copies into pageable memory go as {@code pageableTarget} says. */
  public DeviceCopiers(PageableTarget pageableTarget) {
    this.pageableTarget = Objects.requireNonNull(pageableTarget, "pageableTarget");
  }

  /**
   * The {@link PageableTarget} {@value #PAGEABLE_TARGET_PROPERTY} names, {@code REGISTER} where it
   * is unset.
   *
   * @throws IllegalArgumentException if it names neither
   */
  public static PageableTarget pageableTargetFromProperty() {
    String value = System.getProperty(PAGEABLE_TARGET_PROPERTY);
    if (value == null || value.isBlank()) {
      return PageableTarget.REGISTER;
    }
    return switch (value.trim().toLowerCase(java.util.Locale.ROOT)) {
      case "register" -> PageableTarget.REGISTER;
      case "stage" -> PageableTarget.STAGE;
      default ->
          throw new IllegalArgumentException(
              PAGEABLE_TARGET_PROPERTY + " must be register or stage, not '" + value + "'");
    };
  }

  /** How copies into pageable memory go. */
  public PageableTarget pageableTarget() {
    return pageableTarget;
  }

  /**
   * Copies all of {@code src}'s bytes into {@code target} at {@code offset}: one pipelined
   * device-to-host copy, straight into {@code target} when it is page-locked, else as {@link
   * #pageableTarget()} says.
   *
   * @throws IndexOutOfBoundsException if they do not fit there (nothing is copied)
   * @throws io.rtensor.device.DeviceException if the runtime fails the copy
   */
  public void copyToHost(DeviceTensor src, ArrowBuf target, long offset) {
    long bytes = src.byteSize();
    if (offset < 0 || offset > target.capacity() - bytes) {
      throw new IndexOutOfBoundsException(
          bytes + " bytes at offset " + offset + " of a " + target.capacity() + "-byte buffer");
    }
    if (bytes == 0) {
      return;
    }
    ChunkedCopier copier = copier(src.device()); // made on first use, outside the copy's time
    long start = System.nanoTime();
    copyInto(copier, src, HostMemory.of(target), offset, bytes);
    copiesToHost.add(bytes, System.nanoTime() - start);
  }

  /** The copy of {@link #copyToHost}: straight, through a registration, or staged. */
  private void copyInto(
      ChunkedCopier copier, DeviceTensor src, HostMemory memory, long offset, long bytes) {
    Device device = src.device();
    if (!memory.pinned()
        && pageableTarget == PageableTarget.REGISTER
        && bytes >= REGISTER_MIN_BYTES
        && device.kind() == RuntimeKind.CUDA) {
      HostRegistration registration = tryRegister(device, memory.address() + offset, bytes);
      if (registration != null) {
        try (HostRegistration held = registration) {
          copier.copyToHost(src.buffer(), 0, held.memory(), 0, bytes);
        }
        return;
      }
    }
    copier.copyToHost(src.buffer(), 0, memory, offset, bytes);
  }

  /**
   * {@code bytes} bytes at {@code address} page-locked for {@code device}, or null where the
   * runtime refuses (a page of the range already registered by a neighbouring copy, say): then
   * staged.
   */
  private static HostRegistration tryRegister(Device device, long address, long bytes) {
    try {
      return device.register(HostMemory.pageable(address, bytes));
    } catch (DeviceException e) {
      return null;
    }
  }

  /**
   * A tensor on {@code device} holding a copy of {@code host}'s bytes: one pipelined host-to-device
   * copy, fed straight from {@code host}'s memory when it is page-locked. The caller owns it.
   *
   * @throws io.rtensor.device.DeviceException if the runtime fails the allocation or the copy
   *     (nothing is left allocated)
   */
  public DeviceTensor toDevice(Tensor host, Device device) {
    DeviceTensor out = DeviceTensor.allocate(device, host.dtype(), host.shape());
    try {
      long bytes = out.byteSize();
      if (bytes > 0) {
        ChunkedCopier copier = copier(device);
        long start = System.nanoTime();
        copier.copyToDevice(HostMemory.of(host.data()), 0, out.buffer(), 0, bytes);
        copiesToDevice.add(bytes, System.nanoTime() - start);
      }
      return out;
    } catch (RuntimeException e) {
      out.close();
      throw e;
    }
  }

  /**
   * A tensor of {@code dtype} and {@code shape} on {@code device} holding a copy of the first bytes
   * of {@code src}, a buffer {@code device} can address (its own memory, or another device's mapped
   * into it): one device-to-device copy, the host untouched. The caller owns it.
   *
   * @throws io.rtensor.device.DeviceException if the runtime fails the allocation or the copy
   *     (nothing is left allocated)
   * @throws IllegalArgumentException if {@code src} holds fewer bytes than the tensor
   */
  public DeviceTensor copyOnDevice(DeviceBuffer src, DType dtype, Shape shape, Device device) {
    DeviceTensor out = DeviceTensor.allocate(device, dtype, shape);
    try {
      long bytes = out.byteSize();
      if (bytes > src.size()) {
        throw new IllegalArgumentException(
            "a " + dtype + shape + " tensor of " + bytes + " bytes cannot be copied from " + src);
      }
      if (bytes > 0) {
        long start = System.nanoTime();
        device.copyOnDevice(src, 0, out.buffer(), 0, bytes);
        copiesOnDevice.add(bytes, System.nanoTime() - start);
      }
      return out;
    } catch (RuntimeException e) {
      out.close();
      throw e;
    }
  }

  /** Closes every copier (their streams and staging memory). */
  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    RuntimeException first = null;
    for (ChunkedCopier c : copiers.values()) {
      try {
        c.close();
      } catch (RuntimeException e) {
        if (first == null) {
          first = e;
        } else {
          first.addSuppressed(e);
        }
      }
    }
    copiers.clear();
    if (first != null) {
      throw first;
    }
  }

  /** Copies, bytes and nanoseconds of one direction. */
  private static final class Counter {
    private long copies;
    private long bytes;
    private long nanos;

    synchronized void add(long copyBytes, long copyNanos) {
      copies++;
      bytes += copyBytes;
      nanos += copyNanos;
    }

    synchronized Totals read() {
      return new Totals(copies, bytes, nanos);
    }
  }
}
