package io.rtensor.ipc;

import io.rtensor.RTensorException;

/** A shared-memory or Unix-socket system call failed; carries the operation and its errno. */
public class SharedMemoryException extends RTensorException {
  private static final long serialVersionUID = 1L;

  private final String operation;
  private final int errno;

  public SharedMemoryException(String operation, int errno, String message) {
    super(operation + " failed (errno " + errno + "): " + message);
    this.operation = operation;
    this.errno = errno;
  }

  /** The call that failed, e.g. {@code "mmap"}. */
  public String operation() {
    return operation;
  }

  /** The errno it returned (positive). */
  public int errno() {
    return errno;
  }

  /** True for a receive or send that hit the socket's deadline. */
  public boolean isTimeout() {
    return errno == 11; // EAGAIN
  }

  static long check(String operation, long rc, String detail) {
    if (rc < 0) {
      throw new SharedMemoryException(operation, (int) -rc, detail);
    }
    return rc;
  }
}
