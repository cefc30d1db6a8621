package io.rtensor.transport.internal;

import io.rtensor.ipc.SharedMemoryException;
import io.rtensor.ipc.SharedSegment;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.ForeignAllocation;

/**
 * Shard store memory that other processes of the node can map: each shard of at least {@link
 * #MIN_SHARED_BYTES} is stored in a {@link SharedSegment} of its own (a sealed memfd), lent to
 * Arrow as a foreign allocation accounted to the store's allocator, so the cap counts it as before.
 * When the store frees the shard (a clear, the store closing) the segment is unmapped and its
 * descriptor closed here; a process that mapped it keeps the memory until it unmaps it or dies.
 * Smaller shards, and any shard the system will not give a segment, are plain Arrow buffers and
 * travel over Flight.
 */
public final class SharedShardMemory implements ShardStore.Memory {
  /** Shards smaller than this are not worth a segment, a descriptor and a mapping each. */
  public static final long MIN_SHARED_BYTES = 1L << 20;

  private final Map<Long, SharedSegment> segments = new ConcurrentHashMap<>();

  @Override
  public ArrowBuf allocate(BufferAllocator allocator, long size) {
    if (size < MIN_SHARED_BYTES || size > allocator.getHeadroom()) {
      return allocator.buffer(size); // the allocator says no to the latter, as it always did
    }
    SharedSegment segment;
    try {
      segment = SharedSegment.create(size);
    } catch (SharedMemoryException | UnsatisfiedLinkError e) {
      return allocator.buffer(size);
    }
    try {
      ArrowBuf buf = allocator.wrapForeignAllocation(new Lent(segment, segments));
      segments.put(segment.address(), segment);
      return buf.writerIndex(0); // empty, as a fresh Arrow buffer is: the shard is written after

    } catch (RuntimeException | Error e) {
      segment.close();
      throw e;
    }
  }

  /**
   * A new read-only descriptor of the segment that holds {@code stored} (a buffer of this memory,
   * held by the caller), for another process; the caller closes it once sent. -1 if the buffer is
   * not in a segment.
   */
  public int readOnlyDescriptor(ArrowBuf stored) {
    SharedSegment segment = segments.get(stored.memoryAddress());
    return segment == null ? -1 : segment.readOnlyDescriptor();
  }

  /** Segments alive here (one per stored shard in shared memory). */
  public int segments() {
    return segments.size();
  }

  private static final class Lent extends ForeignAllocation {
    private final SharedSegment segment;
    private final Map<Long, SharedSegment> registry;

    Lent(SharedSegment segment, Map<Long, SharedSegment> registry) {
      super(segment.size(), segment.address());
      this.segment = segment;
      this.registry = registry;
    }

    @Override
    protected void release0() {
      registry.remove(segment.address());
      segment.close();
    }
  }
}
