package io.rtensor.device;

import io.rtensor.device.internal.HostOps;

/** Host-memory operations implemented in the native layer. */
public final class NativeHost {
  private NativeHost() {}

  /** Version of the native C ABI this jar was built with. */
  public static int abiVersion() {
    return HostOps.native_abi_version();
  }

  /**
   * A 64-bit content checksum (FNV-1a over 8-byte words) of {@code length} bytes at a native
   * address. Used to check that bytes crossed a hop intact; not cryptographic.
   *
   * @throws IllegalArgumentException if the address is 0 with a non-zero length, or the length is
   *     negative
   */
  public static long checksum(long address, long length) {
    if (length < 0) {
      throw new IllegalArgumentException("length must be >= 0, got " + length);
    }
    if (address == 0 && length > 0) {
      throw new IllegalArgumentException("null address with length " + length);
    }
    return HostOps.checksum64(address, length);
  }

  /**
   * Copies {@code length} bytes between native addresses (the ranges must not overlap) with up to
   * {@code threads} threads, each copying a contiguous part of at least 4 MiB with stores that
   * bypass the cache on x86-64. For large copies into memory that is not read again at once: one
   * core's copy does not reach a machine's memory bandwidth. Copies under 8 MiB, or with {@code
   * threads <= 1}, run on the calling thread alone.
   *
   * @throws IllegalArgumentException if the length is negative or an address is 0 with a non-zero
   *     length
   */
  public static void copy(long dst, long src, long length, int threads) {
    if (length < 0) {
      throw new IllegalArgumentException("length must be >= 0, got " + length);
    }
    if ((dst == 0 || src == 0) && length > 0) {
      throw new IllegalArgumentException("null address with length " + length);
    }
    if (length > 0) {
      HostOps.parallel_copy_bytes(dst, src, length, threads);
    }
  }
}
