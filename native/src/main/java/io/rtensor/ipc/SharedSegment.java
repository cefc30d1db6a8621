package io.rtensor.ipc;

import io.rtensor.ipc.internal.ShmOps;

/**
 * An anonymous shared-memory file (memfd) of a fixed size, mapped writable in this process. It is
 * sealed against shrinking and growing, so a process it is handed to cannot truncate it under a
 * mapping. Other processes get it as a {@link #readOnlyDescriptor() read-only descriptor} passed
 * over a {@link UnixSocket}; the memory lives until this segment is closed and every mapping of it
 * in every process is gone (the kernel unmaps a process's mappings when it dies). Linux only.
 */
public final class SharedSegment implements AutoCloseable {
  private final int fd;
  private final long address;
  private final long size;
  private boolean closed;

  private SharedSegment(int fd, long address, long size) {
    this.fd = fd;
    this.address = address;
    this.size = size;
  }

  /**
   * A new segment of {@code size} bytes (at least 1), zero-filled, mapped writable.
   *
   * @throws SharedMemoryException if the system refuses it (out of memory, no memfd)
   */
  public static SharedSegment create(long size) {
    if (size < 1) {
      throw new IllegalArgumentException("a segment holds at least 1 byte, got " + size);
    }
    int fd = (int) SharedMemoryException.check("memfd_create", ShmOps.shm_segment_create(size), "");
    long address = ShmOps.shm_map(fd, size, 1, 0);
    if (address < 0) {
      ShmOps.fd_close(fd);
      SharedMemoryException.check("mmap", address, size + " bytes");
    }
    return new SharedSegment(fd, address, size);
  }

  /** Where it is mapped in this process. */
  public long address() {
    return address;
  }

  public long size() {
    return size;
  }

  /**
   * A new read-only descriptor of this segment, for handing to another process; the caller closes
   * it ({@link UnixSocket#closeDescriptor}) once sent.
   */
  public int readOnlyDescriptor() {
    checkOpen();
    return (int) SharedMemoryException.check("reopen", ShmOps.shm_reopen_readonly(fd), "");
  }

  private synchronized void checkOpen() {
    if (closed) {
      throw new IllegalStateException("shared segment is closed");
    }
  }

  /** Unmaps it and closes its descriptor here; mappings elsewhere keep the memory. */
  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    ShmOps.shm_unmap(address, size);
    ShmOps.fd_close(fd);
  }
}
