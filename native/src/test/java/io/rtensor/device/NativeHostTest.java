package io.rtensor.device;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.rtensor.device.internal.HostOps;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.bytedeco.javacpp.BytePointer;
import org.junit.jupiter.api.Test;

class NativeHostTest {

  /** Reference FNV-1a over little-endian 64-bit words, written in Java. */
  private static long referenceChecksum(byte[] bytes) {
    ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
    long h = 0xcbf29ce484222325L;
    int words = bytes.length / 8;
    for (int i = 0; i < words; i++) {
      h = (h ^ b.getLong(i * 8)) * 0x100000001b3L;
    }
    for (int i = words * 8; i < bytes.length; i++) {
      h = (h ^ (bytes[i] & 0xff)) * 0x100000001b3L;
    }
    return h;
  }

  @Test
  void nativeLibraryLoadsAndReportsItsAbi() {
    assertEquals(1, NativeHost.abiVersion());
  }

  @Test
  void checksumComputedInCppMatchesTheJavaReference() {
    byte[] bytes = new byte[1037];
    for (int i = 0; i < bytes.length; i++) {
      bytes[i] = (byte) (i * 31 + 7);
    }
    try (BytePointer p = new BytePointer(bytes)) {
      long nativeSum = NativeHost.checksum(p.address(), bytes.length);
      assertEquals(referenceChecksum(bytes), nativeSum);
      bytes[1000] ^= 1;
      p.put(bytes);
      assertNotEquals(nativeSum, NativeHost.checksum(p.address(), bytes.length));
    }
  }

  @Test
  void checksumRejectsNullAndNegativeLengthsBeforeNativeCode() {
    assertThrows(IllegalArgumentException.class, () -> NativeHost.checksum(0, 8));
    assertThrows(IllegalArgumentException.class, () -> NativeHost.checksum(1, -1));
  }

  @Test
  void streamingCopyIsExactAtUnalignedOffsetsAndTouchesNothingElse() {
    long[] lengths = {0, 1, 4095, 256 << 10, (256 << 10) + 63, (1 << 20) + 17};
    int size = (1 << 20) + 256;
    byte[] src = new byte[size];
    for (int i = 0; i < size; i++) {
      src[i] = (byte) (i * 131 + 11);
    }
    try (BytePointer from = new BytePointer(src);
        BytePointer to = new BytePointer(size)) {
      for (long length : lengths) {
        for (int srcOffset : new int[] {0, 3, 16}) {
          for (int dstOffset : new int[] {0, 1, 15, 64}) {
            to.fill(0x7F);
            HostOps.stream_copy_bytes(to.address() + dstOffset, from.address() + srcOffset, length);
            assertCopiedOnly(
                src, to, srcOffset, dstOffset, length, "from +" + srcOffset + " to +" + dstOffset);
          }
        }
      }
    }
  }

  @Test
  void parallelCopyIsExactForEveryThreadCountAndTouchesNothingElse() {
    int size = (24 << 20) + 4096;
    byte[] src = new byte[size];
    for (int i = 0; i < size; i++) {
      src[i] = (byte) (i * 131 + 11 + (i >>> 20));
    }
    try (BytePointer from = new BytePointer(src);
        BytePointer to = new BytePointer(size)) {
      long[] lengths = {0, 5, (8 << 20) - 1, (16 << 20) + 63, (24 << 20) + 7};
      for (long length : lengths) {
        for (int threads : new int[] {0, 1, 2, 3, 7}) {
          int dstOffset = 1;
          int srcOffset = 3;
          to.fill(0x7F);
          NativeHost.copy(to.address() + dstOffset, from.address() + srcOffset, length, threads);
          assertCopiedOnly(src, to, srcOffset, dstOffset, length, "with " + threads);
        }
      }
    }
    assertThrows(IllegalArgumentException.class, () -> NativeHost.copy(0, 8, 1, 2));
    assertThrows(IllegalArgumentException.class, () -> NativeHost.copy(8, 8, -1, 2));
  }

  /**
   * {@code to} (filled with 0x7F before the copy) holds {@code length} bytes of {@code src} from
   * {@code srcOffset} at {@code dstOffset} and 0x7F everywhere else.
   */
  private static void assertCopiedOnly(
      byte[] src, BytePointer to, int srcOffset, int dstOffset, long length, String how) {
    byte[] out = new byte[src.length];
    to.get(out);
    for (int i = 0; i < out.length; i++) {
      byte expected =
          i >= dstOffset && i < dstOffset + length ? src[i - dstOffset + srcOffset] : 0x7F;
      if (out[i] != expected) {
        throw new AssertionError("byte " + i + " wrong after copying " + length + " bytes " + how);
      }
    }
  }
}
