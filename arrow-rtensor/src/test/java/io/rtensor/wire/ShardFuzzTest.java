package io.rtensor.wire;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.rtensor.tensor.DType;
import io.rtensor.tensor.Shape;
import io.rtensor.tensor.Tensor;
import io.rtensor.tensor.TensorBatch;
import io.rtensor.tensor.TestTensors;
import io.rtensor.testing.PythonEnv;
import java.io.ByteArrayInputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.Channels;
import java.nio.file.Files;
import java.nio.file.Path;
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
import org.junit.jupiter.api.io.TempDir;

/**
 * Mutated encodings of valid shards (bit flips, truncations, changed length fields, splices) decode
 * correctly or throw {@link WireFormatException}: no other exception, no hang, no leak. The corpus
 * holds shards this codec writes and, where the project's Python is there (always in CI), shards
 * pyarrow writes. A mutant that decodes although the mutation left its record batch (metadata and
 * tensor bytes) alone holds the original's tensor bytes, element for element. The seed is fixed; a
 * failure names the case and mutation so it reproduces.
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

  /** Shards pyarrow writes (every dtype, ranks 0 to 4, a mixed batch), made at test time. */
  private static List<byte[]> pyarrowShards(Path dir) throws Exception {
    Path script = Path.of(ShardFuzzTest.class.getResource("/python/shard_interop.py").toURI());
    PythonEnv.Result r = PythonEnv.run(script, 300, "write", dir.toString());
    assertEquals(0, r.exitCode(), "pyarrow side failed:\n" + r.output());
    List<byte[]> out = new ArrayList<>();
    try (var files = Files.list(dir)) {
      for (Path f : files.filter(p -> p.toString().endsWith(".arrow")).sorted().toList()) {
        out.add(Files.readAllBytes(f));
      }
    }
    assertTrue(out.size() > DType.values().length * 9, out.size() + " pyarrow shards");
    return out;
  }

  @Test
  void mutatedShardsDecodeCorrectlyOrFailWithTheTypedException() {
    List<byte[]> valid = validShards();
    assertTimeoutPreemptively(Duration.ofMinutes(3), () -> runCases(valid, SEED));
  }

  @Test
  void mutatedShardsThatPyarrowWroteDecodeCorrectlyOrFailWithTheTypedException(@TempDir Path dir)
      throws Exception {
    PythonEnv.python(); // skips without the project's Python, fails in CI
    List<byte[]> valid = new ArrayList<>(pyarrowShards(dir));
    valid.addAll(validShards());
    assertTimeoutPreemptively(Duration.ofMinutes(3), () -> runCases(valid, SEED + 1));
  }

  private void runCases(List<byte[]> valid, long seed) throws Exception {
    List<TensorBatch> originals = new ArrayList<>();
    try {
      for (byte[] v : valid) {
        originals.add(ShardCodec.decode(v, allocator, LIMITS));
      }
      runCases(valid, originals, seed);
    } finally {
      originals.forEach(TensorBatch::close);
    }
  }

  private void runCases(List<byte[]> valid, List<TensorBatch> originals, long seed)
      throws Exception {
    Random random = new Random(seed);
    int rejected = 0;
    int decoded = 0;
    int compared = 0;
    long slowest = 0;
    for (int i = 0; i < CASES; i++) {
      int which = random.nextInt(valid.size());
      byte[] base = valid.get(which);
      StringBuilder how = new StringBuilder();
      Mutant mutant = mutate(base, valid.get(random.nextInt(valid.size())), random, how);
      byte[] bytes = mutant.bytes();
      int route = i % 3;
      long start = System.nanoTime();
      try (BufferAllocator child = allocator.newChildAllocator("case-" + i, 0, 64 << 20)) {
        try (TensorBatch b = decode(bytes, route, child)) {
          checkConsistent(b);
          if (compareWithOriginal(
              mutant, ShardMessages.of(base).batch(), originals.get(which), b)) {
            compared++;
          }
          decoded++;
        } catch (AssertionError e) {
          throw new AssertionError("case " + i + " (route " + route + ", " + how + "): " + e, e);
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
        "fuzz: %d cases, %d decoded (%d compared with their original), %d rejected, slowest %.2f"
            + " ms%n",
        CASES, decoded, compared, rejected, slowest / 1e6);
    assertTrue(rejected > CASES / 2, "most mutations should be caught, " + rejected + " were");
    assertTrue(decoded > 0, "some mutations (padding, values) should still decode");
    assertTrue(compared > 0, "some mutants that left the record batch alone should decode");
  }

  /**
   * When the mutation left the record batch message (its metadata and the tensor bytes) in place
   * and unchanged, a mutant that decodes holds the original's tensor bytes, column by column; when
   * it touched nothing before the end of the record batch, it is the original batch. Returns
   * whether the mutant was compared.
   */
  private static boolean compareWithOriginal(
      Mutant m, ShardMessages.Frame batch, TensorBatch original, TensorBatch decoded) {
    boolean batchIntact =
        m.shifts() ? m.from() >= batch.end() : m.to() <= batch.offset() || m.from() >= batch.end();
    if (!batchIntact) {
      return false;
    }
    if (m.from() >= batch.end()) {
      ShardCodecTest.assertSameBatch(original, decoded);
      return true;
    }
    // Only the schema changed: names, types of the same width, the row shape's split may differ,
    // but the bytes each column reads are the original's.
    List<Tensor> want = new ArrayList<>(original.tensors().values());
    List<Tensor> got = new ArrayList<>(decoded.tensors().values());
    assertEquals(want.size(), got.size(), "columns");
    for (int c = 0; c < want.size(); c++) {
      assertArrayEquals(want.get(c).toByteArray(), got.get(c).toByteArray(), "column " + c);
    }
    return true;
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

  /**
   * A mutated shard, and what the mutation changed in its base: the bytes in {@code [from, to)} in
   * place, or (when it {@code shifts}) every byte from {@code from} on, moved or gone.
   */
  record Mutant(byte[] bytes, int from, int to, boolean shifts) {}

  private static Mutant mutate(byte[] base, byte[] other, Random r, StringBuilder how) {
    byte[] b = base.clone();
    int from;
    int to;
    boolean shifts = false;
    switch (r.nextInt(7)) {
      case 0 -> {
        int flips = 1 + r.nextInt(8);
        how.append("flip ").append(flips).append(" bits at");
        from = b.length;
        to = 0;
        for (int k = 0; k < flips; k++) {
          int at = r.nextInt(b.length);
          b[at] ^= (byte) (1 << r.nextInt(8));
          how.append(' ').append(at);
          from = Math.min(from, at);
          to = Math.max(to, at + 1);
        }
      }
      case 1 -> {
        int at = r.nextInt(b.length);
        how.append("truncate to ").append(at);
        b = Arrays.copyOf(b, at);
        from = at;
        to = base.length;
        shifts = true;
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
        from = at;
        to = Math.min(b.length, at + width);
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
        from = cutA;
        to = base.length;
        shifts = true;
      }
      case 5 -> {
        int at = r.nextInt(b.length);
        int len = 1 + r.nextInt(Math.min(32, b.length - at));
        int into = r.nextInt(b.length);
        how.append("duplicate ")
            .append(len)
            .append(" bytes from ")
            .append(at)
            .append(" at ")
            .append(into);
        byte[] s = new byte[b.length + len];
        System.arraycopy(b, 0, s, 0, into);
        System.arraycopy(b, at, s, into, len);
        System.arraycopy(b, into, s, into + len, b.length - into);
        b = s;
        from = into;
        to = base.length;
        shifts = true;
      }
      default -> {
        int at = r.nextInt(b.length);
        int len = 1 + r.nextInt(Math.min(16, b.length - at));
        how.append("randomise ").append(len).append(" bytes at ").append(at);
        for (int k = 0; k < len; k++) {
          b[at + k] = (byte) r.nextInt();
        }
        from = at;
        to = at + len;
      }
    }
    return new Mutant(b, from, to, shifts);
  }
}
