package io.rtensor.transport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rtensor.device.NativeHost;
import io.rtensor.tensor.DType;
import io.rtensor.tensor.Shape;
import io.rtensor.tensor.Tensor;
import io.rtensor.testing.SeededShards;
import java.util.List;
import java.util.SplittableRandom;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.RootAllocator;
import org.junit.jupiter.api.Test;

class SeededBytesTest {

  @Test
  void theWordsAreSplittableRandomsSequenceForTheSeed() {
    for (long seed : new long[] {0, 1, 15, -7}) {
      SplittableRandom random = new SplittableRandom(seed);
      for (long i = 0; i < 100; i++) {
        assertEquals(random.nextLong(), SeededBytes.word(seed, i), "seed " + seed + " word " + i);
      }
    }
  }

  @Test
  void theChecksumOfTheSeedIsTheNativeChecksumOfTheFilledBytesAndNothingPastThemIsWritten() {
    try (RootAllocator root = new RootAllocator();
        ArrowBuf buf = root.buffer(4200)) {
      for (long length : new long[] {0, 1, 7, 8, 9, 1000, 4099}) {
        buf.setOne(0, buf.capacity());
        SeededBytes.fill(buf.memoryAddress(), length, length);
        assertEquals(
            SeededBytes.checksum(length, length),
            NativeHost.checksum(buf.memoryAddress(), length),
            "length " + length);
        for (long at = length; at < buf.capacity(); at++) {
          assertEquals((byte) 0xff, buf.getByte(at), "byte " + at + " past length " + length);
        }
      }
    }
    assertNotEquals(SeededBytes.checksum(0, 64), SeededBytes.checksum(1, 64));
    assertThrows(IllegalArgumentException.class, () -> SeededBytes.checksum(0, -1));
  }

  @Test
  void theCheckFailsOnOneWrongByteAndNamesItsOffset() {
    try (RootAllocator root = new RootAllocator();
        Tensor a = Tensor.allocateUninitialized(root, DType.UINT8, Shape.of(1003));
        Tensor b = Tensor.allocateUninitialized(root, DType.UINT8, Shape.of(1003))) {
      SeededShards.fill(a, 0);
      SeededShards.fill(b, 1);
      SeededShards.assertEachHoldsItsSeed(List.of(a, b));
      AssertionError swapped =
          assertThrows(
              AssertionError.class, () -> SeededShards.assertEachHoldsItsSeed(List.of(b, a)));
      assertTrue(swapped.getMessage().contains("shard 0"), swapped.getMessage());
      for (long at : new long[] {0, 517, 1002}) {
        SeededShards.fill(a, 0);
        a.buffer().setByte(at, a.buffer().getByte(at) ^ 1);
        AssertionError e =
            assertThrows(AssertionError.class, () -> SeededShards.assertHoldsSeed(a, 0, "a"));
        assertTrue(e.getMessage().contains("first wrong byte at " + at), e.getMessage());
      }
    }
  }
}
