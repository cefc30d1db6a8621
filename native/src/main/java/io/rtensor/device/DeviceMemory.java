package io.rtensor.device;

import io.rtensor.device.internal.DeviceOps;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * One reference to a range of a device's memory whose references are counted in native code, so
 * that the last one may be dropped by another library as well as by Java: memory rtensor allocated
 * ({@link #allocate}), freed when the last reference goes, or a tensor another library handed over
 * through DLPack ({@link Dlpack#importTensor}), whose deleter is then called, exactly once.
 *
 * <p>{@link #retain()} gives another reference with its own {@link #close()}; every DLPack export
 * ({@link Dlpack#exportTensor}) holds one until its consumer calls the deleter. The references Java
 * holds are listed by {@link #openReferences()} (with the stack that opened each when the system
 * property {@code rtensor.leaks.trace} is {@code true}), so a test can fail on a leak.
 */
public final class DeviceMemory implements AutoCloseable {
  private static final Set<DeviceMemory> OPEN = ConcurrentHashMap.newKeySet();

  private final Device device;
  private final long lease;
  private final long address;
  private final long size;
  private final boolean imported;
  private final StackTraceElement[] openedAt;
  private final AtomicBoolean closed = new AtomicBoolean();

  DeviceMemory(Device device, long lease, long address, long size, boolean imported) {
    this.device = device;
    this.lease = lease;
    this.address = address;
    this.size = size;
    this.imported = imported;
    this.openedAt =
        Boolean.getBoolean("rtensor.leaks.trace") ? Thread.currentThread().getStackTrace() : null;
    OPEN.add(this);
  }

  /**
   * Allocates {@code bytes} bytes on the device ({@code cuMemAlloc} / {@code aclrtMalloc}; aligned
   * host memory on the CPU), freed when the last reference is dropped.
   */
  public static DeviceMemory allocate(Device device, long bytes) {
    if (device == null) {
      throw new NullPointerException("device");
    }
    if (bytes <= 0) {
      throw new IllegalArgumentException("allocation size must be > 0, got " + bytes);
    }
    long[] out = new long[2];
    device
        .nativeRuntime()
        .check(
            DeviceOps.lease_allocate(device.backend(), device.index(), bytes, out),
            "memAlloc",
            device.index(),
            bytes);
    return new DeviceMemory(device, out[0], out[1], bytes, false);
  }

  /** The device the memory is on. */
  public Device device() {
    return device;
  }

  /** The first byte; 0 only for an empty imported tensor. */
  public long address() {
    return address;
  }

  /** The size in bytes. */
  public long size() {
    return size;
  }

  /** Whether another library allocated the memory (a DLPack import). */
  public boolean imported() {
    return imported;
  }

  /** Whether {@link #close()} has been called on this reference. */
  public boolean isClosed() {
    return closed.get();
  }

  long lease() {
    return lease;
  }

  void checkOpen() {
    if (closed.get()) {
      throw new IllegalStateException(this + " is closed");
    }
  }

  /** Another reference to the same memory; close both. */
  public DeviceMemory retain() {
    checkOpen();
    DeviceOps.lease_retain(lease);
    return new DeviceMemory(device, lease, address, size, imported);
  }

  /**
   * Drops this reference; idempotent. The last reference frees the memory, or calls the DLPack
   * producer's deleter.
   *
   * @throws DeviceException if freeing the memory failed (the reference is gone all the same)
   */
  @Override
  public void close() {
    if (closed.compareAndSet(false, true)) {
      OPEN.remove(this);
      device.nativeRuntime().check(DeviceOps.lease_release(lease), "memFree", device.index(), size);
    }
  }

  /**
   * Memory ranges not released yet, each counted once however many references it has (those Java
   * holds and those DLPack exports hold until their consumers delete them).
   */
  public static long liveCount() {
    return DeviceOps.live_leases();
  }

  /** The references Java has not closed, described, with where each was opened when traced. */
  public static List<String> openReferences() {
    List<String> open = new ArrayList<>();
    for (DeviceMemory m : OPEN) {
      StringBuilder b = new StringBuilder(m.toString());
      if (m.openedAt != null) {
        for (StackTraceElement e : m.openedAt) {
          b.append("\n\tat ").append(e);
        }
      }
      open.add(b.toString());
    }
    return open;
  }

  @Override
  public String toString() {
    return "DeviceMemory["
        + device
        + ", 0x"
        + Long.toHexString(address)
        + ", "
        + size
        + " B"
        + (imported ? ", imported" : "")
        + "]";
  }
}
