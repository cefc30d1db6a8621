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
}
