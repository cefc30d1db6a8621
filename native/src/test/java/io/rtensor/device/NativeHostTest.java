package io.rtensor.device;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

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
}
