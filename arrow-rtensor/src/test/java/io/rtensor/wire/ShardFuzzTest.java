package io.rtensor.wire;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.rtensor.tensor.DType;
import io.rtensor.tensor.Shape;
import io.rtensor.tensor.Tensor;
import io.rtensor.tensor.TensorBatch;
import io.rtensor.tensor.TestTensors;
import java.io.ByteArrayInputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.Channels;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Mutated encodings of valid shards (bit flips, truncations, changed length fields, splices) decode
 * correctly or throw {@link WireFormatException}: no other exception, no hang, no leak. The seed is
 * fixed; a failure names the case and mutation so it reproduces.
 */
class ShardFuzzTest {
  private static final long SEED = 0x5EED_2026L;
  private static final int CASES = 12_000;
  private static final long MAX_NANOS_PER_CASE = Duration.ofSeconds(2).toNanos();

  /** The limits a service would set: the shards here are far smaller. */
  private static final DecodeLimits LIMITS = DecodeLimits.DEFAULT.withMaxBodyBytes(1 << 20);

  private BufferAllocator allocator;

  @BeforeEach
  void open() {
    allocator = new RootAllocator();
  }

  @AfterEach
  void close() {
    allocator.close();
  }

  private List<byte[]> validShards() {
    List<byte[]> out = new ArrayList<>();
    Map<String, Tensor> mixed = new LinkedHashMap<>();
    mixed.put("ids", TestTensors.random(allocator, DType.INT64, Shape.of(4), 1));
    mixed.put("h", TestTensors.random(allocator, DType.BFLOAT16, Shape.of(4, 2, 3), 2));
    mixed.put("m", TestTensors.random(allocator, DType.BOOL, Shape.of(4, 5), 3));
    try (TensorBatch b = TensorBatch.of(mixed)) {
      out.add(ShardCodec.encode(b));
    }
    Object[][] singles = {
      {DType.FLOAT32, new long[] {}},
      {DType.FLOAT16, new long[] {3, 0, 2}},
      {DType.UINT8, new long[] {0, 4}},
      {DType.INT32, new long[] {2, 2, 2, 2}},
      {DType.FLOAT64, new long[] {7}},
    };
    for (Object[] s : singles) {
      try (Tensor t = TestTensors.random(allocator, (DType) s[0], Shape.of((long[]) s[1]), 9);
          TensorBatch b = TensorBatch.of("t", t.share())) {
        out.add(ShardCodec.encode(b));
      }
    }
    return out;
  }

  @Test
  void mutatedShardsDecodeCorrectlyOrFailWithTheTypedException() {
    List<byte[]> valid = validShards();
    assertTimeoutPreemptively(Duration.ofMinutes(3), () -> runCases(valid));
  }

  private void runCases(List<byte[]> valid) throws Exception {
    Random random = new Random(SEED);
    int rejected = 0;
    int decoded = 0;
    long slowest = 0;
    for (int i = 0; i < CASES; i++) {
      byte[] base = valid.get(random.nextInt(valid.size()));
      StringBuilder how = new StringBuilder();
      byte[] bytes = mutate(base, valid.get(random.nextInt(valid.size())), random, how);
      int route = i % 3;
      long start = System.nanoTime();
      try (BufferAllocator child = allocator.newChildAllocator("case-" + i, 0, 64 << 20)) {
        try (TensorBatch b = decode(bytes, route, child)) {
          checkConsistent(b);
          decoded++;
        } catch (WireFormatException expected) {
          rejected++;
        } catch (Throwable t) {
          fail("case " + i + " (route " + route + ", " + how + ") threw " + t, t);
        }
        assertEquals(0, child.getAllocatedMemory(), "case " + i + " (" + how + ") leaked");
      }
      long took = System.nanoTime() - start;
      slowest = Math.max(slowest, took);
      assertTrue(took < MAX_NANOS_PER_CASE, "case " + i + " (" + how + ") took " + took + " ns");
    }
    System.out.printf(
        "fuzz: %d cases, %d decoded, %d rejected, slowest %.2f ms%n",
        CASES, decoded, rejected, slowest / 1e6);
    assertTrue(rejected > CASES / 2, "most mutations should be caught, " + rejected + " were");
    assertTrue(decoded > 0, "some mutations (padding, values) should still decode");
  }

  private static TensorBatch decode(byte[] bytes, int route, BufferAllocator child)
      throws Exception {
    switch (route) {
      case 0:
        return ShardCodec.decode(bytes, child, LIMITS);
      case 1:
        return ShardCodec.decode(
            Channels.newChannel(new ByteArrayInputStream(bytes)), child, LIMITS);
      default:
        try (ArrowBuf buf = child.buffer(bytes.length)) {
          buf.setBytes(0, bytes);
          buf.writerIndex(bytes.length);
          return ShardCodec.decode(buf, 0, bytes.length, child, LIMITS);
        }
    }
  }

  /** A decoded batch must be usable: every byte readable, and it must survive a round trip. */
  private void checkConsistent(TensorBatch b) {
    for (Tensor t : b.tensors().values()) {
      assertEquals(t.shape().byteSize(t.dtype()), t.toByteArray().length);
    }
    try (TensorBatch again = ShardCodec.decode(ShardCodec.encode(b), allocator)) {
      ShardCodecTest.assertSameBatch(b, again);
    }
  }

  private static byte[] mutate(byte[] base, byte[] other, Random r, StringBuilder how) {
    byte[] b = base.clone();
    switch (r.nextInt(7)) {
      case 0 -> {
        int flips = 1 + r.nextInt(8);
        how.append("flip ").append(flips).append(" bits at");
        for (int k = 0; k < flips; k++) {
          int at = r.nextInt(b.length);
          b[at] ^= (byte) (1 << r.nextInt(8));
          how.append(' ').append(at);
        }
      }
      case 1 -> {
        int at = r.nextInt(b.length);
        how.append("truncate to ").append(at);
        b = Arrays.copyOf(b, at);
      }
      case 2, 3 -> {
        // Overwrite a 4- or 8-byte little-endian field (lengths, offsets, counts) with a value
        // chosen to be interesting: near zero, negative, huge, or just past a neighbour.
        boolean wide = r.nextBoolean();
        int width = wide ? 8 : 4;
        int at = (r.nextInt(Math.max(1, b.length - width + 1)) / width) * width;
        long v =
            switch (r.nextInt(6)) {
              case 0 -> r.nextInt(16);
              case 1 -> -1 - r.nextInt(16);
              case 2 -> wide ? Long.MAX_VALUE - r.nextInt(16) : Integer.MAX_VALUE - r.nextInt(16);
              case 3 -> 1L << (20 + r.nextInt(wide ? 40 : 11));
              case 4 -> b.length + r.nextInt(64) - 32;
              default -> r.nextLong();
            };
        how.append("set ").append(width).append(" bytes at ").append(at).append(" to ").append(v);
        if (at + width <= b.length) {
          ByteBuffer w = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
          if (wide) {
            w.putLong(at, v);
          } else {
            w.putInt(at, (int) v);
          }
        }
      }
      case 4 -> {
        int cutA = r.nextInt(b.length + 1);
        int cutB = r.nextInt(other.length + 1);
        how.append("splice ").append(cutA).append(" bytes + other from ").append(cutB);
        byte[] s = Arrays.copyOf(b, cutA + other.length - cutB);
        System.arraycopy(other, cutB, s, cutA, other.length - cutB);
        b = s;
      }
      case 5 -> {
        int at = r.nextInt(b.length);
        int len = 1 + r.nextInt(Math.min(32, b.length - at));
        int to = r.nextInt(b.length);
        how.append("duplicate ")
            .append(len)
            .append(" bytes from ")
            .append(at)
            .append(" at ")
            .append(to);
        byte[] s = new byte[b.length + len];
        System.arraycopy(b, 0, s, 0, to);
        System.arraycopy(b, at, s, to, len);
        System.arraycopy(b, to, s, to + len, b.length - to);
        b = s;
      }
      default -> {
        int at = r.nextInt(b.length);
        int len = 1 + r.nextInt(Math.min(16, b.length - at));
        how.append("randomise ").append(len).append(" bytes at ").append(at);
        for (int k = 0; k < len; k++) {
          b[at + k] = (byte) r.nextInt();
        }
      }
    }
    return b;
  }
}
