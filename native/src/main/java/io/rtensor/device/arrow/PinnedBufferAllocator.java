package io.rtensor.device.arrow;

import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.memory.rounding.RoundingPolicy;

/**
 * A root Arrow allocator whose buffers are page-locked blocks of its own {@link PinnedMemoryPool}.
 * Closing it checks for leaked buffers (Arrow's report) and then frees the pool.
 */
public final class PinnedBufferAllocator extends RootAllocator {
  private final PinnedMemoryPool pool;

  PinnedBufferAllocator(PinnedMemoryPool pool, long capBytes, RoundingPolicy rounding) {
    super(
        RootAllocator.configBuilder()
            .allocationManagerFactory(new PinnedAllocationManager.Factory(pool))
            .maxAllocation(capBytes)
            .roundingPolicy(rounding)
            .build());
    this.pool = pool;
  }

  /** The pool behind this allocator. */
  public PinnedMemoryPool pool() {
    return pool;
  }

  /** Whether buffers are page-locked (false on the CPU fallback). */
  public boolean pageLocked() {
    return pool.pageLocked();
  }

  @Override
  public void close() {
    RuntimeException leak = null;
    try {
      super.close();
    } catch (RuntimeException e) {
      leak = e;
    }
    try {
      pool.close();
    } catch (RuntimeException e) {
      if (leak == null) {
        throw e;
      }
      leak.addSuppressed(e);
    }
    if (leak != null) {
      throw leak;
    }
  }
}
