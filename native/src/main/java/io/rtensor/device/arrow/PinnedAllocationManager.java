package io.rtensor.device.arrow;

import io.rtensor.device.PageLockedAllocation;
import org.apache.arrow.memory.AllocationManager;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.ReferenceManager;

/**
 * An Arrow {@link AllocationManager} whose memory is a page-locked block of a {@link
 * PinnedMemoryPool}: an {@link ArrowBuf} from it is the direct target of a device-to-host DMA.
 * Releasing the last reference returns the block to the pool.
 */
public final class PinnedAllocationManager extends AllocationManager
    implements PageLockedAllocation {
  private final PinnedMemoryPool pool;
  private final PinnedMemoryPool.Block block;
  private final long size;

  private PinnedAllocationManager(BufferAllocator accounting, PinnedMemoryPool pool, long size) {
    super(accounting);
    this.pool = pool;
    this.block = pool.acquire(size);
    this.size = size;
  }

  /** Whether the memory is page-locked (false when no device runtime is loaded). */
  @Override
  public boolean pageLocked() {
    return pool.pageLocked();
  }

  /** The size Arrow accounts for: the size asked for (the block may be larger). */
  @Override
  public long getSize() {
    return size;
  }

  @Override
  protected long memoryAddress() {
    return block.address();
  }

  @Override
  protected void release0() {
    pool.release(block);
  }

  /** Creates managers backed by one pool. */
  public static final class Factory implements AllocationManager.Factory {
    private static final ArrowBuf EMPTY = new ArrowBuf(ReferenceManager.NO_OP, null, 0, 0);

    private final PinnedMemoryPool pool;

    public Factory(PinnedMemoryPool pool) {
      if (pool == null) {
        throw new NullPointerException("pool");
      }
      this.pool = pool;
    }

    @Override
    public AllocationManager create(BufferAllocator accountingAllocator, long size) {
      return new PinnedAllocationManager(accountingAllocator, pool, size);
    }

    @Override
    public ArrowBuf empty() {
      return EMPTY;
    }
  }
}
