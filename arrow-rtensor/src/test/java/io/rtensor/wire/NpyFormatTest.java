package io.rtensor.wire;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rtensor.tensor.DType;
import io.rtensor.tensor.Shape;
import io.rtensor.tensor.Tensor;
import io.rtensor.tensor.TestTensors;
import io.rtensor.testing.PythonEnv;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@code .npy} headers are read as numpy reads them, in one bounded pass: a header over numpy's
 * 10,000-byte limit is refused from its length field, a repeated key takes its last value, NUL
 * bytes and bad UTF-8 are refused, and every refusal is a {@link WireFormatException}.
 */
class NpyFormatTest {
  private static final byte[] MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};

  private BufferAllocator allocator;

  @BeforeEach
  void open() {
    allocator = new RootAllocator();
  }

  @AfterEach
  void close() {
    allocator.close(); // a refused file leaves nothing allocated
  }

  /** A {@code .npy} file of format {@code major} whose header is {@code header} (as bytes). */
  static byte[] npy(int major, byte[] header, int dataBytes) {
    int prefix = major == 1 ? 10 : 12;
    ByteBuffer b =
        ByteBuffer.allocate(prefix + header.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
    b.put(MAGIC).put((byte) major).put((byte) 0);
    if (major == 1) {
      b.putShort((short) header.length);
    } else {
      b.putInt(header.length);
    }
    b.put(header);
    for (int i = 0; i < dataBytes; i++) {
      b.put((byte) i);
    }
    return b.array();
  }

  static byte[] npy(int major, String header, int dataBytes) {
    return npy(
        major,
        header.getBytes(major == 3 ? StandardCharsets.UTF_8 : StandardCharsets.ISO_8859_1),
        dataBytes);
  }

  private Tensor read(byte[] file) throws IOException {
    return NpyFormat.read(new ByteArrayChannel(file), allocator);
  }

  private WireFormatException rejects(byte[] file) {
    return assertThrows(WireFormatException.class, () -> read(file).close());
  }

  @Test
  void everyDtypeRoundTripsThroughAFile(@TempDir Path dir) throws IOException {
    for (DType dtype : DType.values()) {
      if (dtype == DType.BFLOAT16) {
        continue;
      }
      for (long[] dims : new long[][] {{}, {5}, {3, 4}, {2, 0, 3}}) {
        Path file = dir.resolve(dtype + "-" + dims.length + ".npy");
        try (Tensor t = TestTensors.random(allocator, dtype, Shape.of(dims), 3)) {
          NpyFormat.write(t, file);
          try (Tensor back = NpyFormat.read(file, allocator)) {
            assertEquals(dtype, back.dtype());
            assertEquals(t.shape(), back.shape());
            assertArrayEquals(t.toByteArray(), back.toByteArray());
          }
          byte[] bytes = Files.readAllBytes(file);
          try (Tensor fromChannel = read(bytes)) {
            assertArrayEquals(t.toByteArray(), fromChannel.toByteArray());
          }
        }
      }
    }
  }

  @Test
  void headersNumpyWritesAreRead() throws IOException {
    String[] headers = {
      "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }          \n",
      "{'descr':'<f4','fortran_order':False,'shape':(2,3)}",
      "{\"shape\": (2, 3), \"descr\": \"<f4\", \"fortran_order\": False}\n",
      "{'descr': '=f4', 'fortran_order': False, 'shape': (2, 3,), }\n",
    };
    for (String h : headers) {
      for (int major = 1; major <= 3; major++) {
        try (Tensor t = read(npy(major, h, 24))) {
          assertEquals(DType.FLOAT32, t.dtype(), h);
          assertEquals(Shape.of(2, 3), t.shape(), h);
        }
      }
    }
    try (Tensor scalar = read(npy(1, "{'descr': '|b1', 'fortran_order': False, 'shape': ()}", 1))) {
      assertEquals(Shape.scalar(), scalar.shape());
    }
  }

  @Test
  void pythonTwoLongSuffixesAreReadInVersionOneAndTwoOnly() throws IOException {
    String h = "{'descr': '<i2', 'fortran_order': False, 'shape': (2L, 3L), }\n";
    for (int major = 1; major <= 2; major++) {
      try (Tensor t = read(npy(major, h, 12))) {
        assertEquals(Shape.of(2, 3), t.shape());
      }
    }
    assertTrue(rejects(npy(3, h, 12)).getMessage().contains("only integers are read"));
  }

  @ParameterizedTest
  @ValueSource(ints = {256 << 10, 1 << 20})
  void aRepeatedUnclosedShapeHeaderIsRefusedFromItsLengthUnread(int size) {
    String start = "{'descr': '<f4', 'fortran_order': False, ";
    StringBuilder h = new StringBuilder(start);
    while (h.length() < size) {
      h.append("'shape': (");
    }
    byte[] file = npy(2, h.substring(0, size), 0);
    ByteArrayChannel channel = new ByteArrayChannel(file);
    WireFormatException e =
        assertTimeoutPreemptively(
            Duration.ofSeconds(10),
            () ->
                assertThrows(
                    WireFormatException.class, () -> NpyFormat.read(channel, allocator).close()));
    assertTrue(e.getMessage().contains("header of " + size + " bytes exceeds the limit of 10000"));
    assertEquals(8, e.offset());
    assertTrue(channel.bytesRead() <= 12, "read " + channel.bytesRead() + " bytes");
  }

  @Test
  void aRepeatedUnclosedShapeHeaderWithinTheLimitIsRefusedInOnePass() {
    StringBuilder h = new StringBuilder("{'descr': '<f4', 'fortran_order': False, ");
    while (h.length() < NpyFormat.MAX_HEADER_BYTES - 10) {
      h.append("'shape': (");
    }
    byte[] file = npy(2, h.toString(), 0);
    WireFormatException e = assertTimeoutPreemptively(Duration.ofSeconds(10), () -> rejects(file));
    assertTrue(e.getMessage().contains("header is not a Python literal"), e.getMessage());
  }

  @Test
  void aHeaderOfExactlyTheLimitIsRead() throws IOException {
    String dict = "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }";
    String h = dict + " ".repeat(NpyFormat.MAX_HEADER_BYTES - dict.length() - 1) + "\n";
    try (Tensor t = read(npy(2, h, 24))) {
      assertEquals(Shape.of(3), t.shape());
    }
    assertTrue(rejects(npy(2, " " + h, 24)).getMessage().contains("exceeds the limit"));
  }

  @Test
  void aRepeatedKeyTakesItsLastValueAsInPython() throws IOException {
    String h =
        "{'descr': '<i4', 'shape': (4, 4), 'fortran_order': True, 'shape': (2,),"
            + " 'descr': '<f8', 'fortran_order': False}";
    try (Tensor t = read(npy(1, h, 16))) {
      assertEquals(DType.FLOAT64, t.dtype());
      assertEquals(Shape.of(2), t.shape());
    }
  }

  @Test
  void aNulByteIsRefused() {
    String h = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }   \u0000\n";
    for (int major = 1; major <= 3; major++) {
      WireFormatException e = rejects(npy(major, h, 8));
      assertTrue(e.getMessage().contains("NUL byte"), e.getMessage());
      assertEquals((major == 1 ? 10 : 12) + h.indexOf('\u0000'), e.offset());
    }
    String inString = "{'descr': '<f4\u0000', 'fortran_order': False, 'shape': (2,), }";
    assertTrue(rejects(npy(1, inString, 8)).getMessage().contains("NUL byte"));
  }

  @Test
  void invalidUtf8IsRefusedInVersionThreeAndReadAsLatin1Before() {
    ByteArrayOutputStream h = new ByteArrayOutputStream();
    h.writeBytes("{'descr': '<f4".getBytes(StandardCharsets.US_ASCII));
    h.write(0xC3); // a lead byte followed by '(' is malformed UTF-8
    h.writeBytes(
        "(', 'fortran_order': False, 'shape': (2,), }\n".getBytes(StandardCharsets.US_ASCII));
    WireFormatException v3 = rejects(npy(3, h.toByteArray(), 8));
    assertTrue(v3.getMessage().contains("not valid UTF-8"), v3.getMessage());
    WireFormatException v1 = rejects(npy(1, h.toByteArray(), 8));
    assertTrue(v1.getMessage().contains("unsupported dtype '<f4\u00c3('"), v1.getMessage());
    byte[] overlong = {'{', (byte) 0xC0, (byte) 0xAF, '}'};
    assertTrue(rejects(npy(3, overlong, 0)).getMessage().contains("not valid UTF-8"));
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "{'descr': '<f4', 'fortran_order': False}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'extra': 1}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': [2]}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (True,)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2.0,)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (-2,)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (02,)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}",
        "{'descr': '<f4', 'fortran_order': 0, 'shape': (2,)}",
        "{'descr': '<f4', 'fortran_order': True, 'shape': (2,)}",
        "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,)}",
        "{'descr': '<V2', 'fortran_order': False, 'shape': (2,)}",
        "{'descr': '>f4', 'fortran_order': False, 'shape': (2,)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2,)} extra",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2,)",
        "{'descr': '<f4 , 'fortran_order': False, 'shape': (2,)}",
        "{'descr': '<f4', 'fortran_order': Falsey, 'shape': (2,)}",
        "('descr', '<f4')",
        "",
        "{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), # a comment\n}"
      })
  void whatNumpyRefusesIsRefused(String header) {
    WireFormatException e = rejects(npy(1, header, 8));
    assertTrue(e.offset() >= 0, e.getMessage());
  }

  @Test
  void refusalsSayWhatIsWrong() {
    String bf16 = "{'descr': '<V2', 'fortran_order': False, 'shape': (2,), }";
    assertTrue(rejects(npy(1, bf16, 4)).getMessage().contains("bfloat16"));
    String keys = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}";
    assertTrue(
        rejects(npy(1, keys, 8))
            .getMessage()
            .contains("header keys are ['descr', 'fortran_order'," + " 'shape', 'x']"));
    String fortran = "{'descr': '<f4', 'fortran_order': True, 'shape': (2,)}";
    assertTrue(rejects(npy(1, fortran, 8)).getMessage().contains("Fortran-ordered"));
    String shortData = "{'descr': '<f4', 'fortran_order': False, 'shape': (3,)}";
    assertTrue(rejects(npy(1, shortData, 8)).getMessage().contains("data is 8 bytes but"));
  }

  @Test
  void aShapeWhoseByteSizeOverflowsIsAWireFormatException() {
    String h = "{'descr': '<f8', 'fortran_order': False, 'shape': (2305843009213693952,)}";
    WireFormatException e = rejects(npy(1, h, 8));
    assertTrue(e.getMessage().contains("overflows"), e.getMessage());
    String elements = "{'descr': '<f8', 'fortran_order': False, 'shape': (4611686018427387904, 4)}";
    assertTrue(rejects(npy(1, elements, 8)).getMessage().contains("overflows"));
  }

  @Test
  void filesNumpyWritesInEveryFormatVersionAreReadBitForBit(@TempDir Path dir) throws Exception {
    Path script = Path.of(NpyFormatTest.class.getResource("/python/npy_write.py").toURI());
    PythonEnv.Result made = PythonEnv.run(script, 120, dir.toString());
    assertEquals(0, made.exitCode(), made.output());
    List<String> lines = made.output().lines().toList();
    assertEquals(9 * 5 * 3, lines.size(), made.output());
    for (String line : lines) {
      String[] f = line.split("\t", -1);
      long[] dims =
          f[3].isEmpty()
              ? new long[0]
              : Arrays.stream(f[3].split(",")).mapToLong(Long::parseLong).toArray();
      try (Tensor t = NpyFormat.read(Path.of(f[0]), allocator)) {
        assertEquals(DType.parse(f[2]), t.dtype(), f[0]);
        assertEquals(Shape.of(dims), t.shape(), f[0]);
        assertArrayEquals(Files.readAllBytes(Path.of(f[1])), t.toByteArray(), f[0]);
      }
    }
  }
}
