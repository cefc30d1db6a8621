package io.rtensor.device.internal;

import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.annotation.Cast;
import org.bytedeco.javacpp.annotation.Namespace;
import org.bytedeco.javacpp.annotation.Platform;

/** JavaCPP mirror of {@code rtensor_host.h}: host-memory primitives implemented in C++. */
@Platform(include = "rtensor_host.h")
@Namespace("rtensor")
public final class HostOps {
  static {
    Loader.load();
  }

  private HostOps() {}

  /** ABI version of the native layer. */
  public static native int native_abi_version();

  /** FNV-1a style checksum of {@code length} bytes at {@code address}. */
  public static native @Cast("uint64_t") long checksum64(
      @Cast("const void*") long address, @Cast("size_t") long length);

  /** {@code memcpy(dst, src, length)} on raw addresses. */
  public static native void copy_bytes(
      @Cast("void*") long dst, @Cast("const void*") long src, @Cast("size_t") long length);

  /**
   * Copies {@code length} bytes with streaming stores that bypass the cache on x86-64 (memcpy below
   * 256 KiB and elsewhere): for large copies into memory that is not read again soon.
   */
  public static native void stream_copy_bytes(
      @Cast("void*") long dst, @Cast("const void*") long src, @Cast("size_t") long length);

  /**
   * {@link #stream_copy_bytes} split across up to {@code threads} threads (the caller's included),
   * each copying at least 4 MiB.
   */
  public static native void parallel_copy_bytes(
      @Cast("void*") long dst,
      @Cast("const void*") long src,
      @Cast("size_t") long length,
      int threads);
}
