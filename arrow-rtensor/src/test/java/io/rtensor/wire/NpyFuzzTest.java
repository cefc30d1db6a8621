package io.rtensor.wire;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.rtensor.tensor.DType;
import io.rtensor.tensor.Shape;
import io.rtensor.tensor.Tensor;
import io.rtensor.tensor.TestTensors;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Mutated {@code .npy} headers (bit flips, truncations, changed length fields and versions,
 * inserted Python tokens, deletions, duplications, splices) read correctly or throw {@link
 * WireFormatException}: no other exception, no hang, no leak. The seed is fixed; a failure names
 * the case and its mutation so it reproduces.
 */
class NpyFuzzTest {
  private static final long SEED = 0x4E50_5946L;
  private static final int CASES = 12_000;
  private static final long MAX_NANOS_PER_CASE = Duration.ofSeconds(2).toNanos();

  /** Fragments of the header language, and bytes that are not part of it. */
  private static final String[] TOKENS = {
    "'shape': (",
    "(",
    ")",
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "'",
    "\"",
    "\\",
    "True",
    "False",
    "None",
    "L",
    "-",
    "+",
    "0",
    "00",
    "99999999999999999999",
    "9223372036854775807",
    "\u0000",
    "\u00ff",
    "#",
    "\n",
    "\t",
    " ",
    "'descr'",
    "'fortran_order'",
    "'<f4'",
    "'|b1'",
    "'<V2'",
    "'>i8'",
    "1e5",
    "2.0",
    "_",
    "((((((((((((((((((((((((((((((((((((((((",
    "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
    "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }"
  };

  /** One base file: its bytes, format version and where its header starts and ends. */
  private record Base(byte[] bytes, int major, int headerStart, int headerEnd) {}

  @Test
  void mutatedHeadersReadCorrectlyOrFailWithTheTypedException(@TempDir Path dir) throws Exception {
    try (BufferAllocator allocator = new RootAllocator()) {
      List<Base> bases = bases(allocator, dir);
      assertTimeoutPreemptively(Duration.ofSeconds(60), () -> runCases(bases, allocator));
      assertEquals(0, allocator.getAllocatedMemory());
    } // closing the allocator fails the test if anything leaked
  }

  private static List<Base> bases(BufferAllocator allocator, Path dir) throws Exception {
    List<Base> out = new ArrayList<>();
    Object[][] tensors = {
      {DType.FLOAT32, new long[] {2, 3}},
      {DType.BOOL, new long[] {}},
      {DType.INT64, new long[] {4}},
      {DType.UINT8, new long[] {2, 0, 3}},
      {DType.FLOAT16, new long[] {1, 2, 1, 2}},
    };
    int k = 0;
    for (Object[] t : tensors) {
      Path file = dir.resolve("base" + k++ + ".npy");
      try (Tensor tensor =
          TestTensors.random(allocator, (DType) t[0], Shape.of((long[]) t[1]), k)) {
        NpyFormat.write(tensor, file);
      }
      byte[] bytes = Files.readAllBytes(file);
      int length = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).getShort(8) & 0xffff;
      out.add(new Base(bytes, 1, 10, 10 + length));
    }
    String[] headers = {
      "{'descr': '<i2', 'fortran_order': False, 'shape': (3L, 2L), }\n",
      "{\"descr\": \"<f8\", \"shape\": (2,), \"fortran_order\": False}\n",
      "{'descr': '<i4', 'fortran_order': False, 'shape': (2,), 'shape': (1,)}\n",
    };
    int[] dataBytes = {12, 16, 4};
    for (int i = 0; i < headers.length; i++) {
      for (int major = 1; major <= 3; major++) {
        if (major == 3 && i == 0) {
          continue; // the Python 2 'L' suffix is refused in version 3.0
        }
        byte[] bytes = NpyFormatTest.npy(major, headers[i], dataBytes[i]);
        int start = major == 1 ? 10 : 12;
        out.add(new Base(bytes, major, start, start + headers[i].length()));
      }
    }
    for (Base b : out) {
      try (Tensor ok = NpyFormat.read(new ByteArrayChannel(b.bytes), allocator)) {
        assertTrue(ok.byteSize() >= 0); // every base is valid
      }
    }
    return out;
  }

  private static void runCases(List<Base> bases, BufferAllocator allocator) throws Exception {
    Random random = new Random(SEED);
    int rejected = 0;
    int read = 0;
    long slowest = 0;
    for (int i = 0; i < CASES; i++) {
      Base base = bases.get(random.nextInt(bases.size()));
      StringBuilder how = new StringBuilder();
      byte[] bytes = mutate(base, bases.get(random.nextInt(bases.size())), random, how);
      long start = System.nanoTime();
      try (BufferAllocator child = allocator.newChildAllocator("case-" + i, 0, 16 << 20)) {
        try (Tensor t = NpyFormat.read(new ByteArrayChannel(bytes), child)) {
          assertEquals(t.shape().byteSize(t.dtype()), t.toByteArray().length);
          read++;
        } catch (WireFormatException expected) {
          rejected++;
        } catch (Throwable t) {
          fail("case " + i + " (" + how + ") threw " + t, t);
        }
        assertEquals(0, child.getAllocatedMemory(), "case " + i + " (" + how + ") leaked");
      }
      long took = System.nanoTime() - start;
      slowest = Math.max(slowest, took);
      assertTrue(took < MAX_NANOS_PER_CASE, "case " + i + " (" + how + ") took " + took + " ns");
    }
    System.out.printf(
        "npy fuzz: %d cases, %d read, %d rejected, slowest %.2f ms%n",
        CASES, read, rejected, slowest / 1e6);
    assertTrue(rejected > CASES / 2, "most mutations should be caught, " + rejected + " were");
    assertTrue(read > 0, "some mutations (padding, spaces) should still read");
  }

  private static byte[] mutate(Base base, Base other, Random r, StringBuilder how) {
    byte[] b = base.bytes.clone();
    int hs = base.headerStart;
    int he = base.headerEnd;
    switch (r.nextInt(9)) {
      case 0 -> {
        int flips = 1 + r.nextInt(8);
        how.append("flip ").append(flips).append(" bits at");
        for (int k = 0; k < flips; k++) {
          int at = r.nextInt(he);
          b[at] ^= (byte) (1 << r.nextInt(8));
          how.append(' ').append(at);
        }
        return b;
      }
      case 1 -> {
        int at = r.nextInt(b.length);
        how.append("truncate to ").append(at);
        return java.util.Arrays.copyOf(b, at);
      }
      case 2 -> {
        long v =
            switch (r.nextInt(7)) {
              case 0 -> r.nextInt(16);
              case 1 -> he - hs + r.nextInt(64) - 32;
              case 2 -> NpyFormat.MAX_HEADER_BYTES + r.nextInt(3) - 1;
              case 3 -> 0xffff;
              case 4 -> 0xffffffffL - r.nextInt(4);
              case 5 -> 1L << (10 + r.nextInt(21));
              default -> r.nextInt() & 0xffffffffL;
            };
        how.append("set header length to ").append(v);
        return withLength(b, base.major, v);
      }
      case 3 -> {
        String token = TOKENS[r.nextInt(TOKENS.length)];
        int at = hs + r.nextInt(he - hs + 1);
        boolean fix = r.nextInt(4) != 0;
        how.append("insert '").append(token.replace("\u0000", "\\0")).append("' at ").append(at);
        how.append(fix ? " (length fixed)" : "");
        byte[] t = token.getBytes(StandardCharsets.UTF_8);
        return splice(b, base, at, at, t, fix);
      }
      case 4 -> {
        int at = hs + r.nextInt(he - hs);
        int len = 1 + r.nextInt(Math.min(24, he - at));
        how.append("delete ").append(len).append(" bytes at ").append(at);
        return splice(b, base, at, at + len, new byte[0], true);
      }
      case 5 -> {
        int at = hs + r.nextInt(he - hs);
        int len = 1 + r.nextInt(Math.min(16, he - at));
        how.append("randomise ").append(len).append(" header bytes at ").append(at);
        for (int k = 0; k < len; k++) {
          b[at + k] = (byte) (r.nextBoolean() ? 32 + r.nextInt(95) : r.nextInt(256));
        }
        return b;
      }
      case 6 -> {
        int from = hs + r.nextInt(he - hs);
        int len = 1 + r.nextInt(Math.min(40, he - from));
        int at = hs + r.nextInt(he - hs + 1);
        how.append("duplicate ").append(len).append(" bytes from ").append(from).append(" at ");
        how.append(at);
        byte[] piece = java.util.Arrays.copyOfRange(b, from, from + len);
        return splice(b, base, at, at, piece, true);
      }
      case 7 -> {
        int[] versions = {0, 1, 2, 3, 4, 255};
        int v = versions[r.nextInt(versions.length)];
        how.append("set version to ").append(v);
        b[6] = (byte) v;
        return b;
      }
      default -> {
        how.append("header of one base, data of another");
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(b, 0, he);
        out.write(other.bytes, other.headerEnd, other.bytes.length - other.headerEnd);
        return out.toByteArray();
      }
    }
  }

  /**
   * {@code b} with {@code [from, to)} replaced by {@code piece}; the length field follows if asked.
   */
  private static byte[] splice(byte[] b, Base base, int from, int to, byte[] piece, boolean fix) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.write(b, 0, from);
    out.write(piece, 0, piece.length);
    out.write(b, to, b.length - to);
    byte[] s = out.toByteArray();
    if (!fix) {
      return s;
    }
    long length = base.headerEnd - base.headerStart + piece.length - (to - from);
    return withLength(s, base.major, length);
  }

  private static byte[] withLength(byte[] b, int major, long length) {
    ByteBuffer w = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
    if (major == 1) {
      w.putShort(8, (short) length);
    } else {
      w.putInt(8, (int) length);
    }
    return b;
  }
}
