package io.rtensor.device.arrow;

import io.rtensor.device.Device;
import io.rtensor.device.DeviceException;
import io.rtensor.device.HostBuffer;
import io.rtensor.device.RuntimeKind;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.Map;
import org.apache.arrow.memory.OutOfMemoryException;

/**
 * A pool of page-locked host blocks obtained from a device runtime ({@code cuMemAllocHost} / {@code
 * aclrtMallocHost}; ordinary aligned memory on the CPU backend). Pinning memory is slow, so
 * released blocks are kept by size class and handed out again. Everything the pool holds, in use
 * and cached, stays under a cap; cached blocks are freed first when the cap would be passed.
 */
public final class PinnedMemoryPool implements AutoCloseable {
  private static final long MIN_BLOCK = 4096;
  private static final long LARGE_GRANULE = 1L << 20;

  private final Device device;
  private final long capBytes;
  private final Map<Long, ArrayDeque<HostBuffer>> cached = new HashMap<>();
  private final Map<Block, Boolean> inUse = new IdentityHashMap<>();
  private long bytesInUse;
  private long bytesCached;
  private long runtimeAllocations;
  private long runtimeFrees;
  private long reuses;
  private boolean closed;

  /** A block handed out by the pool: its memory and its size class. */
  public static final class Block {
    private final HostBuffer buffer;

    private Block(HostBuffer buffer) {
      this.buffer = buffer;
    }

    /** The host address. */
    public long address() {
      return buffer.address();
    }

    /** The usable size of the block (its size class, at least the size asked for). */
    public long capacity() {
      return buffer.size();
    }
  }

  /** Counters of a pool. */
  public record Stats(
      long runtimeAllocations,
      long runtimeFrees,
      long reuses,
      long bytesInUse,
      long bytesCached,
      long capBytes) {}

  /**
   * A pool of memory page-locked through {@code device}'s runtime.
   *
   * @param capBytes the most bytes the pool holds at once, in use and cached
   */
  public PinnedMemoryPool(Device device, long capBytes) {
    if (device == null) {
      throw new NullPointerException("device");
    }
    if (capBytes <= 0) {
      throw new IllegalArgumentException("cap must be > 0, got " + capBytes);
    }
    this.device = device;
    this.capBytes = capBytes;
  }

  /** The device whose runtime pins the memory. */
  public Device device() {
    return device;
  }

  /** Whether blocks are truly page-locked (false on the CPU fallback). */
  public boolean pageLocked() {
    return device.kind() != RuntimeKind.CPU;
  }

  /** The size class of a request: powers of two up to 1 MiB, then whole MiB. */
  static long sizeClass(long bytes) {
    if (bytes <= MIN_BLOCK) {
      return MIN_BLOCK;
    }
    if (bytes <= LARGE_GRANULE) {
      return Long.highestOneBit(bytes - 1) << 1;
    }
    return (bytes + LARGE_GRANULE - 1) / LARGE_GRANULE * LARGE_GRANULE;
  }

  /**
   * A block of at least {@code bytes} bytes, reused when one of its size class is cached.
   *
   * @throws OutOfMemoryException when the cap does not allow it
   */
  public synchronized Block acquire(long bytes) {
    if (closed) {
      throw new IllegalStateException("pinned pool is closed");
    }
    if (bytes <= 0) {
      throw new IllegalArgumentException("block size must be > 0, got " + bytes);
    }
    long size = sizeClass(bytes);
    ArrayDeque<HostBuffer> free = cached.get(size);
    if (free != null && !free.isEmpty()) {
      HostBuffer buffer = free.pop();
      bytesCached -= size;
      reuses++;
      return handOut(new Block(buffer));
    }
    if (size > capBytes - bytesInUse) {
      throw new OutOfMemoryException(
          "pinned pool cap "
              + capBytes
              + " B reached: "
              + bytesInUse
              + " B in use, "
              + bytes
              + " B requested");
    }
    evict(bytesInUse + bytesCached + size - capBytes);
    HostBuffer buffer;
    try {
      buffer = device.allocateHost(size);
    } catch (DeviceException e) {
      // The runtime may be short of pinned memory that this pool is caching: give it back, retry.
      if (bytesCached == 0) {
        throw e;
      }
      evict(bytesCached);
      buffer = device.allocateHost(size);
    }
    runtimeAllocations++;
    return handOut(new Block(buffer));
  }

  private Block handOut(Block block) {
    inUse.put(block, Boolean.TRUE);
    bytesInUse += block.capacity();
    return block;
  }

  /** Returns a block to the pool; it is cached for reuse. */
  public synchronized void release(Block block) {
    if (inUse.remove(block) == null) {
      throw new IllegalArgumentException("block is not in use in this pool");
    }
    bytesInUse -= block.capacity();
    if (closed) {
      free(block.buffer);
      return;
    }
    cached.computeIfAbsent(block.capacity(), k -> new ArrayDeque<>()).push(block.buffer);
    bytesCached += block.capacity();
  }

  /** Frees cached blocks until at least {@code bytes} bytes are freed or none are left. */
  private void evict(long bytes) {
    var sizes = cached.entrySet().iterator();
    while (bytes > 0 && sizes.hasNext()) {
      var entry = sizes.next();
      ArrayDeque<HostBuffer> blocks = entry.getValue();
      while (bytes > 0 && !blocks.isEmpty()) {
        HostBuffer buffer = blocks.pop();
        bytesCached -= buffer.size();
        bytes -= buffer.size();
        free(buffer);
      }
      if (blocks.isEmpty()) {
        sizes.remove();
      }
    }
  }

  private void free(HostBuffer buffer) {
    buffer.close();
    runtimeFrees++;
  }

  /** Frees every cached block. */
  public synchronized void trim() {
    evict(Long.MAX_VALUE);
  }

  /** The pool's counters. */
  public synchronized Stats stats() {
    return new Stats(runtimeAllocations, runtimeFrees, reuses, bytesInUse, bytesCached, capBytes);
  }

  /**
   * Frees the cached blocks. Blocks still in use are freed when released.
   *
   * @throws IllegalStateException if blocks are still in use (a leak)
   */
  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    evict(Long.MAX_VALUE);
    if (!inUse.isEmpty()) {
      throw new IllegalStateException(
          "pinned pool closed with " + inUse.size() + " block(s), " + bytesInUse + " B, in use");
    }
  }
}
