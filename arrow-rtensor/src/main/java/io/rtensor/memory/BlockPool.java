package io.rtensor.memory;

import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.ForeignAllocation;
import org.apache.arrow.memory.util.MemoryUtil;

/**
 * Large Arrow buffers whose memory is kept when they are freed and handed out again.
 *
 * <p>Why: localizing a step's shards allocates the same large sizes over and over (a 16 MiB shard
 * lands in a 16 MiB buffer every step). Memory fresh from the operating system costs a page fault
 * and a zeroed page per 4 KiB on first touch, and the C allocator gives big blocks back to the
 * system when they are freed, so every step paid that again: on a 2-core VM about a third of the
 * CPU of a Flight fetch. A kept block skips it.
 *
 * <p>Policy: {@link #buffer} requests of at least {@link #MIN_BLOCK} bytes are rounded up to a
 * multiple of {@link #GRANULE} and served from a kept block of exactly that size when there is one,
 * else from a new block ({@code malloc}); smaller requests go to the allocator as usual. The buffer
 * belongs to (and is accounted to) the allocator passed in, like any other of its buffers; when it
 * is freed its block is kept while the kept blocks stay within {@code maxIdleBytes}, else freed at
 * once. Kept blocks are not zeroed (Arrow's own allocations are not either). {@link #close()} frees
 * the kept blocks and keeps none from then on; buffers still in use stay valid. Thread-safe.
 */
public final class BlockPool implements AutoCloseable {
  /** Requests below this size are left to the allocator. */
  public static final long MIN_BLOCK = 1L << 20;

  /** Blocks are sized in multiples of this. */
  public static final long GRANULE = 64L << 10;

  /** The bound {@link #BlockPool()} keeps: 1 GiB. */
  public static final long DEFAULT_MAX_IDLE = 1L << 30;

  private final long maxIdleBytes;
  private final Map<Long, ArrayDeque<Long>> idle = new HashMap<>();
  private long idleBytes;
  private boolean closed;
  private long reused;
  private long fresh;

  /** A pool keeping at most {@link #DEFAULT_MAX_IDLE} bytes of freed blocks. */
  public BlockPool() {
    this(DEFAULT_MAX_IDLE);
  }

  /** A pool keeping at most {@code maxIdleBytes} of freed blocks (0: keep none). */
  public BlockPool(long maxIdleBytes) {
    if (maxIdleBytes < 0) {
      throw new IllegalArgumentException("maxIdleBytes must be >= 0, got " + maxIdleBytes);
    }
    this.maxIdleBytes = maxIdleBytes;
  }

  /**
   * A buffer of at least {@code size} bytes owned by {@code allocator} (its limit applies; its
   * capacity is the block size for large requests). Close it as any buffer.
   *
   * @throws org.apache.arrow.memory.OutOfMemoryException past the allocator's limit (the block is
   *     kept for later)
   */
  public ArrowBuf buffer(BufferAllocator allocator, long size) {
    if (size < MIN_BLOCK) {
      return allocator.buffer(size);
    }
    long block = roundUp(size);
    long address = take(block);
    if (address == 0) {
      address = MemoryUtil.allocateMemory(block);
    }
    Block b = new Block(address, block);
    try {
      return allocator.wrapForeignAllocation(b);
    } catch (RuntimeException | Error e) {
      // Refused (over the limit, allocator closed): the block was never handed out.
      b.release0();
      throw e;
    }
  }

  /** Bytes of freed blocks kept for reuse. */
  public synchronized long idleBytes() {
    return idleBytes;
  }

  /** The most bytes of freed blocks this pool keeps. */
  public long maxIdleBytes() {
    return maxIdleBytes;
  }

  /** Large buffers served from a kept block so far. */
  public synchronized long reusedBlocks() {
    return reused;
  }

  /** Large buffers that took a new block from the system so far. */
  public synchronized long freshBlocks() {
    return fresh;
  }

  /** Frees every kept block; buffers in use are not affected. */
  public void trim() {
    Map<Long, ArrayDeque<Long>> drop;
    synchronized (this) {
      drop = new HashMap<>(idle);
      idle.clear();
      idleBytes = 0;
    }
    for (ArrayDeque<Long> q : drop.values()) {
      for (long address : q) {
        MemoryUtil.freeMemory(address);
      }
    }
  }

  /** Frees every kept block and keeps none from now on: blocks freed later go back at once. */
  @Override
  public void close() {
    synchronized (this) {
      closed = true;
    }
    trim();
  }

  static long roundUp(long size) {
    if (size > Long.MAX_VALUE - GRANULE) {
      throw new IllegalArgumentException("a buffer of " + size + " bytes is too large");
    }
    return (size + GRANULE - 1) / GRANULE * GRANULE;
  }

  private synchronized long take(long block) {
    ArrayDeque<Long> q = idle.get(block);
    if (q == null) {
      fresh++;
      return 0;
    }
    reused++;
    idleBytes -= block;
    long address = q.pop();
    if (q.isEmpty()) {
      idle.remove(block);
    }
    return address;
  }

  private void give(long address, long block) {
    synchronized (this) {
      if (!closed && idleBytes + block <= maxIdleBytes) {
        idle.computeIfAbsent(block, k -> new ArrayDeque<>()).push(address);
        idleBytes += block;
        return;
      }
    }
    MemoryUtil.freeMemory(address);
  }

  private final class Block extends ForeignAllocation {
    private final AtomicBoolean released = new AtomicBoolean();

    Block(long address, long size) {
      super(size, address);
    }

    @Override
    protected void release0() {
      if (released.compareAndSet(false, true)) {
        give(memoryAddress(), getSize());
      }
    }
  }
}
