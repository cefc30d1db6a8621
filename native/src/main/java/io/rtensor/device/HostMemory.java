package io.rtensor.device;

import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferLedger;

/**
 * A range of host memory a copy reads or writes: an address, a size, and whether the pages are
 * locked (so a device can DMA into them directly). Does not own the memory.
 *
 * @param address the first byte; 0 only for an empty range
 * @param size the length in bytes
 * @param pinned whether the memory is page-locked for the device runtime in use
 */
public record HostMemory(long address, long size, boolean pinned) {
  public HostMemory {
    if (size < 0) {
      throw new IllegalArgumentException("size must be >= 0, got " + size);
    }
    if (address == 0 && size > 0) {
      throw new IllegalArgumentException("null address with size " + size);
    }
  }

  /** Ordinary (pageable) host memory. */
  public static HostMemory pageable(long address, long size) {
    return new HostMemory(address, size, false);
  }

  /** Page-locked host memory. */
  public static HostMemory pinned(long address, long size) {
    return new HostMemory(address, size, true);
  }

  /**
   * The memory of an Arrow buffer; pinned when its allocation manager is a {@link
   * PageLockedAllocation} that page-locked it (as the allocators of {@code io.rtensor.device.arrow}
   * do).
   *
   * @throws IllegalArgumentException if the buffer has been released
   */
  public static HostMemory of(ArrowBuf buffer) {
    if (buffer == null) {
      throw new NullPointerException("buffer");
    }
    if (buffer.getReferenceManager().getRefCount() <= 0) {
      throw new IllegalArgumentException("the Arrow buffer has been released");
    }
    boolean pinned =
        buffer.getReferenceManager() instanceof BufferLedger ledger
            && ledger.getAllocationManager() instanceof PageLockedAllocation manager
            && manager.pageLocked();
    return new HostMemory(buffer.memoryAddress(), buffer.capacity(), pinned);
  }
}
