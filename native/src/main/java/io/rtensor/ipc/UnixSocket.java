package io.rtensor.ipc;

import io.rtensor.ipc.internal.ShmOps;
import java.nio.file.Path;

/**
 * A Unix-domain stream socket that can pass a descriptor with its bytes (SCM_RIGHTS) and names the
 * user of its peer (SO_PEERCRED). Blocking; a connected socket's sends and receives fail with a
 * {@link SharedMemoryException#isTimeout() timeout} past {@link #setTimeoutMillis}. Linux only.
 */
public final class UnixSocket implements AutoCloseable {
  private final int fd;
  private volatile boolean closed;

  private UnixSocket(int fd) {
    this.fd = fd;
  }

  /**
   * A socket listening at {@code path}, file mode 0600. Its directory should be the owner's alone
   * (0700): the mode of the socket file is what lets a process connect.
   */
  public static UnixSocket listen(Path path) {
    return new UnixSocket(
        (int)
            SharedMemoryException.check(
                "listen", ShmOps.uds_listen(path.toString()), path.toString()));
  }

  /** Connects to {@code path}; sends and receives then time out after {@code timeoutMillis}. */
  public static UnixSocket connect(Path path, int timeoutMillis) {
    return new UnixSocket(
        (int)
            SharedMemoryException.check(
                "connect", ShmOps.uds_connect(path.toString(), timeoutMillis), path.toString()));
  }

  /** Waits for the next connection (until {@link #shutdown}). */
  public UnixSocket accept() {
    return new UnixSocket((int) SharedMemoryException.check("accept", ShmOps.uds_accept(fd), ""));
  }

  public void setTimeoutMillis(int millis) {
    SharedMemoryException.check("setsockopt", ShmOps.uds_set_timeout(fd, millis), "");
  }

  /** The user id of the connected peer process. */
  public long peerUid() {
    return SharedMemoryException.check("SO_PEERCRED", ShmOps.uds_peer_uid(fd), "");
  }

  /** This process's effective user id. */
  public static long effectiveUid() {
    return ShmOps.effective_uid();
  }

  /** Sends {@code data}, and with {@code passFd >= 0} that descriptor alongside (it stays ours). */
  public void send(byte[] data, int passFd) {
    SharedMemoryException.check("send", ShmOps.uds_send(fd, data, data.length, passFd), "");
  }

  /**
   * Receives exactly {@code data.length} bytes; returns the descriptor that came with them (the
   * caller's to close), or -1.
   */
  public int receive(byte[] data) {
    int[] passed = {-1};
    SharedMemoryException.check(
        "receive", ShmOps.uds_recv(fd, data, data.length, passed), data.length + " bytes");
    return passed[0];
  }

  /** Wakes threads blocked in {@link #accept} or {@link #receive} on this socket. */
  public void shutdown() {
    if (!closed) {
      ShmOps.uds_shutdown(fd);
    }
  }

  /** Closes a descriptor received from {@link #receive} or made by {@link SharedSegment}. */
  public static void closeDescriptor(int fd) {
    if (fd >= 0) {
      ShmOps.fd_close(fd);
    }
  }

  @Override
  public synchronized void close() {
    if (!closed) {
      closed = true;
      ShmOps.uds_shutdown(fd);
      ShmOps.fd_close(fd);
    }
  }
}
