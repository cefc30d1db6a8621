package io.rtensor.transport;

import org.apache.arrow.memory.util.MemoryUtil;

/**
 * Pseudo-random bytes that a seed alone determines, for shards whose every byte a consumer can
 * check: the shards {@link FlightShardServerMain} seeds, and the producers of tests and benchmarks.
 *
 * <p>The bytes are the 8-byte words of SplitMix64 started at the seed (the sequence of {@code new
 * SplittableRandom(seed).nextLong()}) in the machine's byte order, the last word cut to the length
 * (its low bytes first). {@link #checksum} gives the {@link io.rtensor.device.NativeHost#checksum}
 * of them without writing them, so a consumer checks every byte it received against the seed.
 */
public final class SeededBytes {
  private static final long GAMMA = 0x9e3779b97f4a7c15L;
  private static final long FNV_OFFSET = 0xcbf29ce484222325L;
  private static final long FNV_PRIME = 0x100000001b3L;

  private SeededBytes() {}

  /** Word {@code index} (from 0) of the bytes of {@code seed}. */
  public static long word(long seed, long index) {
    return mix(seed + (index + 1) * GAMMA);
  }

  /** Writes the first {@code length} bytes of {@code seed} at the native {@code address}. */
  public static void fill(long address, long length, long seed) {
    checkLength(length);
    long words = length >>> 3;
    long state = seed;
    for (long i = 0; i < words; i++) {
      state += GAMMA;
      MemoryUtil.putLong(address + (i << 3), mix(state));
    }
    long last = mix(state + GAMMA);
    for (long at = words << 3; at < length; at++, last >>>= 8) {
      MemoryUtil.putByte(address + at, (byte) last);
    }
  }

  /**
   * The {@code NativeHost.checksum} (FNV-1a over 8-byte words, the tail bytewise) of the first
   * {@code length} bytes of {@code seed}, computed without writing them.
   */
  public static long checksum(long seed, long length) {
    checkLength(length);
    long words = length >>> 3;
    long state = seed;
    long h = FNV_OFFSET;
    for (long i = 0; i < words; i++) {
      state += GAMMA;
      h = (h ^ mix(state)) * FNV_PRIME;
    }
    long last = mix(state + GAMMA);
    for (long at = words << 3; at < length; at++, last >>>= 8) {
      h = (h ^ (last & 0xff)) * FNV_PRIME;
    }
    return h;
  }

  private static void checkLength(long length) {
    if (length < 0) {
      throw new IllegalArgumentException("length must be >= 0, got " + length);
    }
  }

  /** SplitMix64's finalizer (Stafford's variant 13), as {@code SplittableRandom} uses it. */
  private static long mix(long z) {
    z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
    z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
    return z ^ (z >>> 31);
  }
}
