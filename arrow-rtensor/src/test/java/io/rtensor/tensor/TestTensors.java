package io.rtensor.tensor;

import java.util.Random;
import org.apache.arrow.memory.BufferAllocator;

/** Deterministic test tensors of every dtype. */
public final class TestTensors {
  private TestTensors() {}

  /**
   * A tensor of {@code dtype} and {@code shape} filled from {@code seed}: every value is exactly
   * representable in its dtype (floats are small multiples of 1/4, bools 0/1).
   */
  public static Tensor random(BufferAllocator allocator, DType dtype, Shape shape, long seed) {
    Random r = new Random(seed);
    int n = Math.toIntExact(shape.numel());
    byte[] bytes = new byte[Math.toIntExact(shape.byteSize(dtype))];
    java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(bytes).order(java.nio.ByteOrder.LITTLE_ENDIAN);
    for (int i = 0; i < n; i++) {
      switch (dtype) {
        case BOOL -> b.put((byte) (r.nextBoolean() ? 1 : 0));
        case UINT8, INT8 -> b.put((byte) r.nextInt());
        case INT16 -> b.putShort((short) r.nextInt());
        case INT32 -> b.putInt(r.nextInt());
        case INT64 -> b.putLong(r.nextLong());
        case FLOAT16 -> b.putShort(Half.floatToFloat16((r.nextInt(2001) - 1000) / 4f));
        case BFLOAT16 -> b.putShort(Half.floatToBfloat16((r.nextInt(201) - 100) / 4f));
        case FLOAT32 -> b.putFloat((r.nextInt(2_000_001) - 1_000_000) / 4f);
        case FLOAT64 -> b.putDouble((r.nextLong() >> 12) / 4.0);
      }
    }
    return Tensor.fromBytes(allocator, dtype, shape, bytes);
  }
}
