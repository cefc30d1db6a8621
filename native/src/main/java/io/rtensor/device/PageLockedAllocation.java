package io.rtensor.device;

/**
 * The owner of an Arrow buffer's memory that knows whether a device runtime page-locked it. {@link
 * HostMemory#of(org.apache.arrow.memory.ArrowBuf)} asks the buffer's allocation manager through
 * this interface, so this package needs no allocator of its own to tell pinned memory from
 * pageable; {@code io.rtensor.device.arrow.PinnedAllocationManager} implements it.
 */
public interface PageLockedAllocation {
  /** Whether the memory is page-locked, so that a device can DMA into it directly. */
  boolean pageLocked();
}
