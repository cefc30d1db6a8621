package io.rtensor.ipc.internal;

import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.annotation.Cast;
import org.bytedeco.javacpp.annotation.Namespace;
import org.bytedeco.javacpp.annotation.Platform;

/**
 * JavaCPP mirror of {@code rtensor_shm.h}: memfd segments, their mappings, and Unix-domain sockets
 * that pass descriptors. Every call returns a negative errno on failure.
 */
@Platform(include = "rtensor_shm.h")
@Namespace("rtensor")
public final class ShmOps {
  static {
    Loader.load();
  }

  private ShmOps() {}

  public static native int shm_segment_create(@Cast("int64_t") long size);

  public static native int shm_reopen_readonly(int fd);

  public static native int shm_check_segment(int fd, @Cast("int64_t") long size);

  public static native @Cast("int64_t") long shm_map(
      int fd, @Cast("int64_t") long size, int writable, int populate);

  public static native int shm_unmap(@Cast("int64_t") long address, @Cast("int64_t") long size);

  public static native int fd_close(int fd);

  public static native int uds_listen(String path);

  public static native int uds_accept(int listenFd);

  public static native int uds_shutdown(int fd);

  public static native int uds_set_timeout(int fd, int millis);

  public static native int uds_connect(String path, int timeoutMillis);

  public static native @Cast("int64_t") long uds_peer_uid(int fd);

  public static native @Cast("int64_t") long effective_uid();

  public static native @Cast("int64_t") long uds_send(
      int fd, @Cast("const char*") byte[] data, @Cast("int64_t") long length, int passFd);

  public static native @Cast("int64_t") long uds_recv(
      int fd, @Cast("char*") byte[] data, @Cast("int64_t") long length, int[] fdOut);
}
