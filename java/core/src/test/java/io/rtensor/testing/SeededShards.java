package io.rtensor.testing;

import static org.junit.jupiter.api.Assertions.fail;

import io.rtensor.device.NativeHost;
import io.rtensor.tensor.Tensor;
import io.rtensor.transport.SeededBytes;
import java.util.List;
import org.apache.arrow.memory.util.MemoryUtil;

/**
 * Checks that shards filled with {@link SeededBytes} arrived intact: every byte of every shard, by
 * the native checksum of what arrived against the checksum the seed gives.
 */
public final class SeededShards {
  private SeededShards() {}

  /** Fills {@code tensor} with the bytes of {@code seed}. */
  public static void fill(Tensor tensor, long seed) {
    SeededBytes.fill(tensor.buffer().memoryAddress(), tensor.byteSize(), seed);
  }

  /**
   * Asserts that {@code tensors.get(i)} holds the bytes of seed {@code i} of the same length, for
   * every {@code i}: a dropped, repeated or misplaced chunk, or a shard in the wrong place, fails.
   */
  public static void assertEachHoldsItsSeed(List<?> tensors) {
    for (int i = 0; i < tensors.size(); i++) {
      assertHoldsSeed((Tensor) tensors.get(i), i, "shard " + i);
    }
  }

  /** Asserts that {@code tensor} holds the bytes of {@code seed}; {@code what} names it. */
  public static void assertHoldsSeed(Tensor tensor, long seed, String what) {
    long address = tensor.buffer().memoryAddress();
    long length = tensor.byteSize();
    long got = NativeHost.checksum(address, length);
    long want = SeededBytes.checksum(seed, length);
    if (got != want) {
      fail(
          String.format(
              "%s: checksum %016x of %d bytes, expected %016x (seed %d); first wrong byte at %d",
              what, got, length, want, seed, firstWrongByte(address, length, seed)));
    }
  }

  /** The offset of the first byte that differs from the bytes of {@code seed}, or -1. */
  private static long firstWrongByte(long address, long length, long seed) {
    for (long i = 0; i << 3 < length; i++) {
      long word = SeededBytes.word(seed, i);
      long end = Math.min((i + 1) << 3, length);
      if (end - (i << 3) == 8 && MemoryUtil.getLong(address + (i << 3)) == word) {
        continue;
      }
      for (long at = i << 3; at < end; at++, word >>>= 8) {
        if (MemoryUtil.getByte(address + at) != (byte) word) {
          return at;
        }
      }
    }
    return -1;
  }
}
