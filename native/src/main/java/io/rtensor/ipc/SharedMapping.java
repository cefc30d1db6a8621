package io.rtensor.ipc;

import io.rtensor.ipc.internal.ShmOps;

/**
 * A read-only mapping of a segment another process shared ({@link SharedSegment}), received as a
 * descriptor. Mapping checks first that the segment is sealed against shrinking and holds the bytes
 * asked for, so no later read of the mapping can fault (SIGBUS). Closing unmaps it.
 */
public final class SharedMapping implements AutoCloseable {
  private final long address;
  private final long size;
  private boolean closed;

  private SharedMapping(long address, long size) {
    this.address = address;
    this.size = size;
  }

  /**
   * Maps the first {@code size} bytes of the segment {@code fd} read-only, its pages faulted in at
   * once. The descriptor stays the caller's (it may be closed right after: the mapping keeps the
   * memory).
   *
   * @throws SharedMemoryException with errno EPERM if the segment is not sealed against shrinking,
   *     ERANGE if it is shorter than {@code size}, or what mmap returned
   */
  public static SharedMapping map(int fd, long size) {
    if (size < 1) {
      throw new IllegalArgumentException("a mapping holds at least 1 byte, got " + size);
    }
    SharedMemoryException.check(
        "check segment",
        ShmOps.shm_check_segment(fd, size),
        "a sealed segment of " + size + " bytes");
    long address =
        SharedMemoryException.check("mmap", ShmOps.shm_map(fd, size, 0, 1), size + " bytes");
    return new SharedMapping(address, size);
  }

  public long address() {
    return address;
  }

  public long size() {
    return size;
  }

  @Override
  public synchronized void close() {
    if (!closed) {
      closed = true;
      ShmOps.shm_unmap(address, size);
    }
  }
}
