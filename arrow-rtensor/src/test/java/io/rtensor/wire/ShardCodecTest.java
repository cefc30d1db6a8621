package io.rtensor.wire;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rtensor.memory.BulkCopier;
import io.rtensor.tensor.DType;
import io.rtensor.tensor.Shape;
import io.rtensor.tensor.Tensor;
import io.rtensor.tensor.TensorBatch;
import io.rtensor.tensor.TestTensors;
import java.io.ByteArrayOutputStream;
import java.nio.channels.Channels;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.ipc.ArrowStreamReader;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class ShardCodecTest {
  private BufferAllocator allocator;

  @BeforeEach
  void open() {
    allocator = new RootAllocator();
  }

  @AfterEach
  void close() {
    allocator.close();
  }

  static Stream<Arguments> dtypesAndShapes() {
    List<Arguments> out = new ArrayList<>();
    long[][] shapes = {{}, {5}, {0}, {3, 4}, {2, 0}, {0, 3}, {2, 3, 4}, {2, 1, 0, 3}, {3, 2, 2, 2}};
    for (DType d : DType.values()) {
      for (long[] s : shapes) {
        out.add(Arguments.of(d, Shape.of(s)));
      }
    }
    return out.stream();
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("dtypesAndShapes")
  void roundTripsEveryDtypeAndRankThroughByteArray(DType dtype, Shape shape) {
    try (Tensor t = TestTensors.random(allocator, dtype, shape, 42);
        TensorBatch in = TensorBatch.of("x", t.share());
        TensorBatch out = ShardCodec.decode(ShardCodec.encode(in), allocator)) {
      assertEquals(List.of("x"), List.copyOf(out.names()));
      Tensor back = out.tensor("x");
      assertEquals(t.mismatch(back), java.util.Optional.empty());
    }
  }

  @Test
  void everyEncodeRouteWritesTheSameBytes() throws Exception {
    try (TensorBatch b = sampleBatch()) {
      byte[] bytes = ShardCodec.encode(b);
      assertEquals(bytes.length, ShardCodec.encodedSize(b));

      ByteArrayOutputStream stream = new ByteArrayOutputStream();
      assertEquals(bytes.length, ShardCodec.encode(b, stream));
      assertArrayEquals(bytes, stream.toByteArray());

      ByteArrayOutputStream viaChannel = new ByteArrayOutputStream();
      ShardCodec.encode(b, Channels.newChannel(viaChannel));
      assertArrayEquals(bytes, viaChannel.toByteArray());

      byte[] dirty = new byte[bytes.length];
      java.util.Arrays.fill(dirty, (byte) 0x5A); // a reused array: padding must be rewritten
      assertTrue(dirty == ShardCodec.encode(b, n -> dirty));
      assertArrayEquals(bytes, dirty);
      assertThrows(
          IllegalArgumentException.class, () -> ShardCodec.encode(b, n -> new byte[n + 1]));

      try (ArrowBuf target = allocator.buffer(bytes.length + 16)) {
        target.writerIndex(16);
        assertEquals(bytes.length, ShardCodec.encodeInto(b, target));
        assertEquals(16 + bytes.length, target.writerIndex());
        byte[] copy = new byte[bytes.length];
        target.getBytes(16, copy);
        assertArrayEquals(bytes, copy);
      }
      try (ArrowBuf target = allocator.buffer(bytes.length)) {
        target.setBytes(0, dirty); // stale bytes: padding must be rewritten
        assertEquals(bytes.length, ShardCodec.encodeInto(b, target, new BulkCopier(2)));
        byte[] copy = new byte[bytes.length];
        target.getBytes(0, copy);
        assertArrayEquals(bytes, copy);
      }
    }
  }

  @Test
  void encodeIntoWithABulkCopierWritesLargeTensorsOnSeveralThreadsByteForByte() {
    long cols = (BulkCopier.PARALLEL_MIN * 2) / 3 + 5;
    long big = 3 * cols;
    try (Tensor large = Tensor.allocate(allocator, DType.UINT8, Shape.of(3, cols));
        Tensor small = TestTensors.random(allocator, DType.INT32, Shape.of(3, 5), 7)) {
      for (long i = 0; i < big; i += 4093) {
        large.buffer().setByte(i, (byte) (i * 7 + 1));
      }
      large.buffer().setByte(big - 1, 99);
      Map<String, Tensor> tensors = new LinkedHashMap<>();
      tensors.put("large", large.share());
      tensors.put("small", small.share());
      try (TensorBatch b = TensorBatch.of(tensors)) {
        byte[] bytes = ShardCodec.encode(b);
        try (ArrowBuf target = allocator.buffer(bytes.length)) {
          assertEquals(bytes.length, ShardCodec.encodeInto(b, target, new BulkCopier(3)));
          byte[] copy = new byte[bytes.length];
          target.getBytes(0, copy);
          assertArrayEquals(bytes, copy);
        }
      }
    }
    assertThrows(IllegalArgumentException.class, () -> new BulkCopier(0));
  }

  @Test
  void decodesFromEveryInputKind() throws Exception {
    try (TensorBatch b = sampleBatch()) {
      byte[] bytes = ShardCodec.encode(b);
      try (TensorBatch fromBytes = ShardCodec.decode(bytes, allocator);
          TensorBatch fromChannel =
              ShardCodec.decode(
                  Channels.newChannel(new java.io.ByteArrayInputStream(bytes)), allocator)) {
        assertSameBatch(b, fromBytes);
        assertSameBatch(b, fromChannel);
      }
      try (ArrowBuf buf = allocator.buffer(bytes.length)) {
        buf.setBytes(0, bytes);
        buf.writerIndex(bytes.length);
        try (TensorBatch fromBuf = ShardCodec.decode(buf, allocator)) {
          assertSameBatch(b, fromBuf);
        }
      }
    }
  }

  @Test
  void decodesAShardInTheMiddleOfALargerArray() {
    try (TensorBatch b = sampleBatch()) {
      byte[] bytes = ShardCodec.encode(b);
      byte[] framed = new byte[bytes.length + 13];
      System.arraycopy(bytes, 0, framed, 5, bytes.length);
      try (TensorBatch back =
          ShardCodec.decode(framed, 5, bytes.length, allocator, DecodeLimits.DEFAULT)) {
        assertSameBatch(b, back);
      }
    }
  }

  @Test
  void decodingFromArrowBufCopiesNothingAndOutlivesTheSourceReference() {
    try (TensorBatch b = sampleBatch()) {
      byte[] bytes = ShardCodec.encode(b);
      ArrowBuf buf = allocator.buffer(bytes.length);
      buf.setBytes(0, bytes);
      buf.writerIndex(bytes.length);
      long before = allocator.getAllocatedMemory();
      try (TensorBatch decoded = ShardCodec.decode(buf, allocator)) {
        assertEquals(before, allocator.getAllocatedMemory(), "decode allocated memory");
        buf.close(); // the decoded tensors hold their own references
        assertSameBatch(b, decoded);
      }
    }
  }

  @Test
  void decodingFromABufferOfAnotherRootAllocatorKeepsItsAccountingThere() {
    try (BufferAllocator other = new RootAllocator();
        TensorBatch b = sampleBatch()) {
      byte[] bytes = ShardCodec.encode(b);
      ArrowBuf buf = other.buffer(bytes.length);
      buf.setBytes(0, bytes);
      buf.writerIndex(bytes.length);
      try (TensorBatch decoded = ShardCodec.decode(buf, allocator)) {
        buf.close();
        assertSameBatch(b, decoded);
        assertTrue(other.getAllocatedMemory() > 0, "the tensors keep the other root's buffer");
      }
      assertEquals(0, other.getAllocatedMemory());
    }
  }

  @Test
  void aBatchWithoutColumnsRoundTrips() {
    try (TensorBatch empty = TensorBatch.of(Map.of());
        TensorBatch back = ShardCodec.decode(ShardCodec.encode(empty), allocator)) {
      assertEquals(0, back.size());
      assertEquals(0, back.rows());
    }
  }

  @Test
  void decodingFromByteArrayAllocatesTheBodyOnce() {
    try (Tensor t = TestTensors.random(allocator, DType.FLOAT32, Shape.of(1024, 256), 7);
        TensorBatch b = TensorBatch.of("x", t.share())) {
      byte[] bytes = ShardCodec.encode(b);
      long before = allocator.getAllocatedMemory();
      try (BufferAllocator child = allocator.newChildAllocator("decode", 0, Long.MAX_VALUE);
          TensorBatch decoded = ShardCodec.decode(bytes, child)) {
        assertEquals(t.byteSize(), child.getAllocatedMemory());
        assertEquals(before + t.byteSize(), allocator.getAllocatedMemory());
        assertTrue(decoded.tensor("x").contentEquals(t));
      }
    }
  }

  @Test
  void arrowJavasOwnStreamReaderReadsAShard() throws Exception {
    try (TensorBatch b = sampleBatch();
        ArrowStreamReader reader =
            new ArrowStreamReader(
                new java.io.ByteArrayInputStream(ShardCodec.encode(b)), allocator)) {
      assertTrue(reader.loadNextBatch());
      VectorSchemaRoot root = reader.getVectorSchemaRoot();
      assertEquals(b.rows(), root.getRowCount());
      try (TensorBatch back = TensorBatch.fromVectorSchemaRoot(root)) {
        assertSameBatch(b, back);
      }
    }
  }

  @Test
  void arrowJavaReadsTensorColumnsAsFixedShapeTensorVectorsOnceTheTypeIsRegistered()
      throws Exception {
    io.rtensor.tensor.FixedShapeTensorType.register();
    try (TensorBatch b = sampleBatch();
        ArrowStreamReader reader =
            new ArrowStreamReader(
                new java.io.ByteArrayInputStream(ShardCodec.encode(b)), allocator)) {
      assertTrue(reader.loadNextBatch());
      VectorSchemaRoot root = reader.getVectorSchemaRoot();
      var logits = root.getVector("logits");
      assertTrue(
          logits instanceof io.rtensor.tensor.FixedShapeTensorType.Vector,
          logits.getClass().getName());
      assertEquals(
          Shape.of(3, 2),
          ((io.rtensor.tensor.FixedShapeTensorType) logits.getField().getType()).rowShape());
      try (TensorBatch back = TensorBatch.fromVectorSchemaRoot(root)) {
        assertSameBatch(b, back);
      }
    }
  }

  @Test
  void singleTensorShardLeavesTheTensorOpen() {
    try (Tensor t = Tensor.of(allocator, new float[] {1, 2, 3});
        TensorBatch back = ShardCodec.decode(ShardCodec.encode("w", t), allocator)) {
      assertTrue(back.tensor("w").contentEquals(t));
    }
  }

  @Test
  void encodeIntoRejectsATooSmallTargetWithoutWriting() {
    try (TensorBatch b = sampleBatch();
        ArrowBuf target = allocator.buffer(64)) {
      target.setZero(0, 64);
      assertThrows(IllegalArgumentException.class, () -> ShardCodec.encodeInto(b, target));
      assertEquals(0, target.writerIndex());
      assertEquals(0, target.getLong(0));
    }
  }

  private TensorBatch sampleBatch() {
    Map<String, Tensor> m = new LinkedHashMap<>();
    m.put("ids", TestTensors.random(allocator, DType.INT64, Shape.of(6), 1));
    m.put("logits", TestTensors.random(allocator, DType.BFLOAT16, Shape.of(6, 3, 2), 2));
    m.put("mask", TestTensors.random(allocator, DType.BOOL, Shape.of(6, 5), 3));
    m.put("x", TestTensors.random(allocator, DType.FLOAT16, Shape.of(6, 1, 2, 1), 4));
    return TensorBatch.of(m);
  }

  static void assertSameBatch(TensorBatch expected, TensorBatch actual) {
    assertEquals(List.copyOf(expected.names()), List.copyOf(actual.names()));
    assertEquals(expected.rows(), actual.rows());
    for (String n : expected.names()) {
      assertEquals(
          java.util.Optional.empty(),
          expected.tensor(n).mismatch(actual.tensor(n)),
          "tensor '" + n + "'");
    }
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("dtypesAndShapes")
  void aShardWrittenInPlaceIsTheEncodingOfItsBatch(DType dtype, Shape shape) {
    Map<String, Tensor> columns = new LinkedHashMap<>();
    columns.put("t", TestTensors.random(allocator, dtype, shape, 7));
    if (shape.rank() > 0) {
      columns.put("ids", TestTensors.random(allocator, DType.INT32, Shape.of(shape.dim(0)), 8));
    }
    try (TensorBatch batch = TensorBatch.of(columns)) {
      List<Tensor> sources = List.copyOf(batch.tensors().values());
      long size = ShardCodec.encodedSize(batch.columns(), batch.rows());
      assertEquals(ShardCodec.encodedSize(batch), size);
      List<Integer> asked = new ArrayList<>();
      try (ArrowBuf target = allocator.buffer(size)) {
        target.setOne(0, size); // padding must be written, not left
        long written =
            ShardCodec.encodeInto(
                batch.columns(),
                batch.rows(),
                target,
                (column, buf, offset, length) -> {
                  asked.add(column);
                  assertEquals(sources.get(column).byteSize(), length);
                  buf.setBytes(offset, sources.get(column).buffer(), 0, length);
                });
        assertEquals(size, written);
        assertEquals(size, target.writerIndex());
        byte[] inPlace = new byte[(int) size];
        target.getBytes(0, inPlace);
        assertArrayEquals(ShardCodec.encode(batch), inPlace);
      }
      for (int c = 0; c < sources.size(); c++) {
        assertEquals(sources.get(c).byteSize() > 0, asked.contains(c), "column " + c + " asked");
      }
    }
  }

  @Test
  void aShardWrittenInPlaceRefusesATargetTooSmallBeforeWritingAnything() {
    List<io.rtensor.tensor.ColumnSpec> columns =
        List.of(io.rtensor.tensor.ColumnSpec.of("x", DType.FLOAT32, Shape.of(4, 2)));
    long size = ShardCodec.encodedSize(columns, 4);
    try (ArrowBuf memory = allocator.buffer(size)) {
      ArrowBuf target = memory.slice(0, size - 1).writerIndex(0); // one byte short, not rounded
      assertThrows(
          IllegalArgumentException.class,
          () ->
              ShardCodec.encodeInto(
                  columns,
                  4,
                  target,
                  (c, b, o, n) -> {
                    throw new AssertionError("no column is written");
                  }));
      assertEquals(0, target.writerIndex());
    }
    assertThrows(
        IllegalArgumentException.class, () -> ShardCodec.encodedSize(columns.subList(0, 0), 1));
  }
}
