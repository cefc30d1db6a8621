package io.rtensor.wire;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rtensor.tensor.DType;
import io.rtensor.tensor.Shape;
import io.rtensor.tensor.Tensor;
import io.rtensor.tensor.TensorBatch;
import io.rtensor.tensor.TestTensors;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.Channels;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import org.apache.arrow.flatbuf.Message;
import org.apache.arrow.flatbuf.MessageHeader;
import org.apache.arrow.flatbuf.MetadataVersion;
import org.apache.arrow.flatbuf.RecordBatch;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.BitVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.ipc.ArrowStreamWriter;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Bad bytes get a {@link WireFormatException} saying what and where, and nothing leaks. */
class ShardValidationTest {
  private BufferAllocator allocator;

  @BeforeEach
  void open() {
    allocator = new RootAllocator();
  }

  @AfterEach
  void close() {
    allocator.close(); // throws if a failed decode left a buffer behind
  }

  private byte[] shard(DType dtype, long... shape) {
    try (Tensor t = TestTensors.random(allocator, dtype, Shape.of(shape), 11);
        TensorBatch b = TensorBatch.of("x", t.share())) {
      return ShardCodec.encode(b);
    }
  }

  private WireFormatException rejects(byte[] bytes) {
    return assertThrows(WireFormatException.class, () -> ShardCodec.decode(bytes, allocator));
  }

  @Test
  void badContinuationMarkerIsNamedWithItsOffset() {
    byte[] b = shard(DType.FLOAT32, 4, 3);
    int batch = ShardMessages.of(b).batch().offset();
    b[batch] = 0x7f;
    WireFormatException e = rejects(b);
    assertTrue(e.getMessage().contains("bad continuation marker 0xffffff7f"), e.getMessage());
    assertEquals(batch, e.offset());
  }

  @Test
  void everyTruncationBeforeTheEndOfTheBodyIsRejected() {
    byte[] b = shard(DType.INT16, 5, 2);
    int bodyEnd = ShardMessages.of(b).batch().end();
    for (int cut = 0; cut < b.length; cut++) {
      byte[] prefix = Arrays.copyOf(b, cut);
      if (cut < bodyEnd) {
        WireFormatException e = rejects(prefix);
        assertTrue(e.offset() >= 0 && e.offset() <= cut, "cut " + cut + ": " + e.getMessage());
      } else if (cut == bodyEnd) {
        // A stream may end without its end-of-stream marker once the batch is complete.
        try (TensorBatch ok = ShardCodec.decode(prefix, allocator)) {
          assertEquals(5, ok.rows());
        }
      } else {
        rejects(prefix); // a partial end-of-stream marker
      }
    }
  }

  @Test
  void metadataLengthPastTheEndIsRejected() {
    byte[] b = shard(DType.FLOAT32, 2, 2);
    ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putInt(4, b.length);
    WireFormatException e = rejects(b);
    assertTrue(e.getMessage().contains("runs past the end of input"), e.getMessage());
    assertEquals(4, e.offset());
  }

  @Test
  void metadataLengthAboveTheLimitIsRejected() {
    byte[] b = shard(DType.FLOAT32, 2, 2);
    ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putInt(4, Integer.MAX_VALUE);
    assertTrue(rejects(b).getMessage().contains("metadata length 2147483647 is outside"));
  }

  /** A schema, then a record batch message that claims a body of {@code bodyLength} bytes. */
  private byte[] claimingBody(long bodyLength) {
    return withBatch(shard(DType.UINT8, 3), 3, new long[0][], new long[0][], bodyLength);
  }

  /**
   * The schema of {@code valid}, then a record batch message with the given row count, field nodes
   * {length, nulls}, buffers {offset, length} and body length, and no body bytes.
   */
  private static byte[] withBatch(
      byte[] valid, long rows, long[][] nodes, long[][] buffers, long bodyLength) {
    ShardMessages.Frame schema = ShardMessages.of(valid).schema();
    com.google.flatbuffers.FlatBufferBuilder fb = new com.google.flatbuffers.FlatBufferBuilder();
    RecordBatch.startNodesVector(fb, nodes.length);
    for (int i = nodes.length - 1; i >= 0; i--) {
      org.apache.arrow.flatbuf.FieldNode.createFieldNode(fb, nodes[i][0], nodes[i][1]);
    }
    int nodesAt = fb.endVector();
    RecordBatch.startBuffersVector(fb, buffers.length);
    for (int i = buffers.length - 1; i >= 0; i--) {
      org.apache.arrow.flatbuf.Buffer.createBuffer(fb, buffers[i][0], buffers[i][1]);
    }
    int buffersAt = fb.endVector();
    int rb = RecordBatch.createRecordBatch(fb, rows, nodesAt, buffersAt, 0, 0);
    Message.startMessage(fb);
    Message.addVersion(fb, MetadataVersion.V5);
    Message.addHeaderType(fb, MessageHeader.RecordBatch);
    Message.addHeader(fb, rb);
    Message.addBodyLength(fb, bodyLength);
    fb.finish(Message.endMessage(fb));
    byte[] meta = fb.sizedByteArray();
    int padded = (meta.length + 7) & -8;
    ByteBuffer out = ByteBuffer.allocate(schema.end() + 8 + padded).order(ByteOrder.LITTLE_ENDIAN);
    out.put(valid, 0, schema.end()).putInt(-1).putInt(padded).put(meta);
    return out.array();
  }

  @Test
  void rowCountWhoseShapeOverflowsIsRejected() {
    // An empty tensor [0, 2^30, 0] is fine; the same columns with 2^40 rows cannot be counted.
    byte[] valid = shard(DType.FLOAT32, 0, 1 << 30, 0);
    long rows = 1L << 40;
    byte[] b =
        withBatch(
            valid,
            rows,
            new long[][] {{rows, 0}, {0, 0}},
            new long[][] {{0, 0}, {0, 0}, {0, 0}},
            0);
    WireFormatException e = rejects(b);
    assertTrue(e.getMessage().contains("overflows"), e.getMessage());
  }

  @Test
  void aShortMessageClaimingOneTebibyteAllocatesNothing() throws Exception {
    long tib = 1L << 40;
    byte[] b = claimingBody(tib);
    try (BufferAllocator child = allocator.newChildAllocator("decode", 0, Long.MAX_VALUE)) {
      WireFormatException fromBytes =
          assertThrows(WireFormatException.class, () -> ShardCodec.decode(b, child));
      assertTrue(fromBytes.getMessage().contains("body length " + tib), fromBytes.getMessage());
      WireFormatException fromChannel =
          assertThrows(
              WireFormatException.class,
              () -> ShardCodec.decode(Channels.newChannel(new ByteArrayInputStream(b)), child));
      assertTrue(fromChannel.getMessage().contains("is outside [0, "), fromChannel.getMessage());
      // Even with a limit above the claim, bytes that are not there are not allocated for.
      DecodeLimits generous = DecodeLimits.DEFAULT.withMaxBodyBytes(2 * tib);
      WireFormatException past =
          assertThrows(WireFormatException.class, () -> ShardCodec.decode(b, child, generous));
      assertTrue(past.getMessage().contains("runs past the end of input"), past.getMessage());
      assertEquals(0, child.getPeakMemoryAllocation());
    }
  }

  /** A schema of uint8 [rows] and a record batch that claims {@code rows} body bytes, no body. */
  private byte[] claimingRows(long rows) {
    return withBatch(
        shard(DType.UINT8, 3),
        rows,
        new long[][] {{rows, 0}},
        new long[][] {{0, 0}, {0, rows}},
        rows);
  }

  @Test
  void aShortStreamClaimingFourGibibytesFailsHavingReservedLittle() throws Exception {
    long claim = DecodeLimits.DEFAULT.maxBodyBytes(); // within the limit: only arrival can tell
    byte[] b = claimingRows(claim);
    assertTrue(b.length < 400, b.length + " bytes");
    try (BufferAllocator child = allocator.newChildAllocator("decode", 0, Long.MAX_VALUE)) {
      WireFormatException e =
          assertThrows(
              WireFormatException.class,
              () -> ShardCodec.decode(Channels.newChannel(new ByteArrayInputStream(b)), child));
      assertTrue(e.getMessage().contains("truncated body"), e.getMessage());
      assertEquals(0, child.getAllocatedMemory());
      assertTrue(
          child.getPeakMemoryAllocation() <= 2 * ShardSource.OfChannel.FIRST_BODY_CHUNK,
          "peak " + child.getPeakMemoryAllocation() + " B for a claim of " + claim + " B");
    }
    // Under an allocator too small for the claim it is still the typed error, not Arrow's OOM.
    try (BufferAllocator small = allocator.newChildAllocator("small", 0, 64 << 20)) {
      assertThrows(
          WireFormatException.class,
          () -> ShardCodec.decode(Channels.newChannel(new ByteArrayInputStream(b)), small));
      assertEquals(0, small.getAllocatedMemory());
    }
    // A channel that knows its size is checked like a byte array: nothing is reserved.
    try (BufferAllocator child = allocator.newChildAllocator("seekable", 0, Long.MAX_VALUE)) {
      WireFormatException e =
          assertThrows(
              WireFormatException.class, () -> ShardCodec.decode(new ByteArrayChannel(b), child));
      assertTrue(e.getMessage().contains("runs past the end of input"), e.getMessage());
      assertEquals(0, child.getPeakMemoryAllocation());
    }
  }

  @Test
  void aStreamThatStopsPartWayThroughAGrowingBodyLeavesNothing() throws Exception {
    byte[] full = shard(DType.FLOAT64, 1024, 1024); // an 8 MiB body: the buffer grows 1, 2, 4, 8
    ShardMessages.Frame batch = ShardMessages.of(full).batch();
    for (int cut :
        new int[] {batch.bodyStart() + 1, batch.bodyStart() + (3 << 20), full.length - 9}) {
      byte[] prefix = Arrays.copyOf(full, cut);
      try (BufferAllocator child = allocator.newChildAllocator("cut", 0, Long.MAX_VALUE)) {
        WireFormatException e =
            assertThrows(
                WireFormatException.class, () -> ShardCodec.decode(trickle(prefix, 4093), child));
        assertTrue(e.getMessage().contains("truncated body"), e.getMessage());
        assertEquals(0, child.getAllocatedMemory());
      }
    }
  }

  @Test
  void largeBodiesAndMetadataArrivingInPiecesDecodeWhole() throws Exception {
    try (Tensor big = TestTensors.random(allocator, DType.FLOAT32, Shape.of(1000, 1311), 4);
        TensorBatch expected = TensorBatch.of("big", big.share())) {
      byte[] bytes = ShardCodec.encode(expected);
      try (TensorBatch back = ShardCodec.decode(trickle(bytes, 1000), allocator)) {
        ShardCodecTest.assertSameBatch(expected, back);
      }
    }
    // Some 1500 columns: a schema message well over the first 64 KiB metadata read.
    java.util.Map<String, Tensor> many = new java.util.LinkedHashMap<>();
    for (int i = 0; i < 1500; i++) {
      many.put(
          "column_with_a_long_name_" + i,
          TestTensors.random(allocator, DType.INT16, Shape.of(2, 3), i));
    }
    try (TensorBatch expected = TensorBatch.of(many)) {
      byte[] bytes = ShardCodec.encode(expected);
      assertTrue(ShardMessages.of(bytes).schema().metadataLength() > 128 << 10);
      try (TensorBatch back = ShardCodec.decode(trickle(bytes, 777), allocator)) {
        ShardCodecTest.assertSameBatch(expected, back);
      }
    }
  }

  /** A channel that hands out at most {@code step} bytes a read, like a slow socket. */
  private static java.nio.channels.ReadableByteChannel trickle(byte[] bytes, int step) {
    return new java.nio.channels.ReadableByteChannel() {
      private int at;

      @Override
      public int read(ByteBuffer dst) {
        if (at == bytes.length) {
          return -1;
        }
        int n = Math.min(step, Math.min(dst.remaining(), bytes.length - at));
        dst.put(bytes, at, n);
        at += n;
        return n;
      }

      @Override
      public boolean isOpen() {
        return true;
      }

      @Override
      public void close() {}
    };
  }

  @Test
  void bodyAboveAConfiguredLimitIsRejectedBeforeAllocating() throws Exception {
    byte[] b = shard(DType.FLOAT64, 64, 64); // 32 KiB body
    DecodeLimits small = DecodeLimits.DEFAULT.withMaxBodyBytes(16 << 10);
    try (BufferAllocator child = allocator.newChildAllocator("decode", 0, Long.MAX_VALUE)) {
      assertThrows(WireFormatException.class, () -> ShardCodec.decode(b, child, small));
      assertThrows(
          WireFormatException.class,
          () -> ShardCodec.decode(Channels.newChannel(new ByteArrayInputStream(b)), child, small));
      assertEquals(0, child.getPeakMemoryAllocation());
    }
  }

  @Test
  void bodyLengthThatDisagreesWithShapeTimesWidthIsRejected() {
    // The schema of int32 [2, 3] with the record batch of float64 [2, 3]: nodes agree, the data
    // buffer is twice as long as the schema's shape needs.
    byte[] ints = shard(DType.INT32, 2, 3);
    byte[] doubles = shard(DType.FLOAT64, 2, 3);
    ShardMessages.Frame schema = ShardMessages.of(ints).schema();
    ShardMessages.Frame batch = ShardMessages.of(doubles).batch();
    byte[] spliced = new byte[schema.end() + (doubles.length - batch.offset())];
    System.arraycopy(ints, 0, spliced, 0, schema.end());
    System.arraycopy(
        doubles, batch.offset(), spliced, schema.end(), doubles.length - batch.offset());
    WireFormatException e = rejects(spliced);
    assertTrue(
        e.getMessage().contains("data buffer holds 48 bytes, shape [2, 3] of int32 needs 24"),
        e.getMessage());
  }

  @Test
  void unknownDtypeMetadataIsNamed() {
    byte[] b = shard(DType.BFLOAT16, 2, 2);
    replace(b, "bfloat16", "bfloat99");
    WireFormatException e = rejects(b);
    assertTrue(e.getMessage().contains("unknown dtype 'bfloat99'"), e.getMessage());
  }

  @Test
  void fixedShapeTensorMetadataThatDisagreesWithTheListSizeIsRejected() {
    byte[] b = shard(DType.FLOAT32, 2, 3, 4);
    replace(b, "[3,4]", "[4,4]");
    WireFormatException e = rejects(b);
    assertTrue(e.getMessage().contains("tensor shape [4, 4] has 16 elements"), e.getMessage());
  }

  @Test
  void aSecondRecordBatchIsRejected() {
    byte[] b = shard(DType.INT8, 4);
    ShardMessages.Frame batch = ShardMessages.of(b).batch();
    byte[] twice = new byte[batch.end() + (batch.end() - batch.offset())];
    System.arraycopy(b, 0, twice, 0, batch.end());
    System.arraycopy(b, batch.offset(), twice, batch.end(), batch.end() - batch.offset());
    assertTrue(rejects(twice).getMessage().contains("found a second"));
  }

  @Test
  void schemaWithoutBatchOrEndMarkerIsRejectedButWithTheMarkerIsAnEmptyBatch() {
    byte[] b = shard(DType.INT64, 3, 2);
    ShardMessages.Frame schema = ShardMessages.of(b).schema();
    rejects(Arrays.copyOf(b, schema.end()));
    byte[] empty = Arrays.copyOf(b, schema.end() + 8);
    System.arraycopy(b, b.length - 8, empty, schema.end(), 8);
    try (TensorBatch ok = ShardCodec.decode(empty, allocator)) {
      assertEquals(Shape.of(0, 2), ok.tensor("x").shape());
    }
  }

  @Test
  void bitPackedBooleansFromOtherWritersAreRejectedWithAHint() throws Exception {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (BitVector v = new BitVector("flags", allocator)) {
      v.allocateNew(3);
      v.set(0, 1);
      v.set(1, 0);
      v.set(2, 1);
      v.setValueCount(3);
      try (VectorSchemaRoot root = VectorSchemaRoot.of(v);
          ArrowStreamWriter w = new ArrowStreamWriter(root, null, out)) {
        w.writeBatch();
      }
    }
    WireFormatException e = rejects(out.toByteArray());
    assertTrue(e.getMessage().contains("store bool as uint8"), e.getMessage());
  }

  @Test
  void nullsAreRejected() throws Exception {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (org.apache.arrow.vector.IntVector v =
        new org.apache.arrow.vector.IntVector("ids", allocator)) {
      v.allocateNew(2);
      v.set(0, 5);
      v.setNull(1);
      v.setValueCount(2);
      try (VectorSchemaRoot root = VectorSchemaRoot.of(v);
          ArrowStreamWriter w = new ArrowStreamWriter(root, null, out)) {
        w.writeBatch();
      }
    }
    assertTrue(rejects(out.toByteArray()).getMessage().contains("1 nulls"));
  }

  @Test
  void failedDecodeFromArrowBufLeavesTheSourceReferenceCountAlone() {
    byte[] b = shard(DType.FLOAT32, 8, 8);
    byte[] cut = Arrays.copyOf(b, b.length - 40);
    try (ArrowBuf buf = allocator.buffer(cut.length)) {
      buf.setBytes(0, cut);
      buf.writerIndex(cut.length);
      assertThrows(WireFormatException.class, () -> ShardCodec.decode(buf, allocator));
      assertEquals(1, buf.getReferenceManager().getRefCount());
    }
  }

  @Test
  void metadataEntriesSharingOneLargeStringAreRejected() {
    // One field whose 1000 metadata entries all point at the same 64 KiB key-value pair: a
    // 64 KiB message that would otherwise decode 64 MB of text.
    com.google.flatbuffers.FlatBufferBuilder fb = new com.google.flatbuffers.FlatBufferBuilder();
    int key = fb.createString("k");
    int value = fb.createString("v".repeat(64 << 10));
    int kv = org.apache.arrow.flatbuf.KeyValue.createKeyValue(fb, key, value);
    int[] entries = new int[1000];
    Arrays.fill(entries, kv);
    int meta = org.apache.arrow.flatbuf.Field.createCustomMetadataVector(fb, entries);
    int name = fb.createString("x");
    int intType = org.apache.arrow.flatbuf.Int.createInt(fb, 32, true);
    org.apache.arrow.flatbuf.Field.startField(fb);
    org.apache.arrow.flatbuf.Field.addName(fb, name);
    org.apache.arrow.flatbuf.Field.addTypeType(fb, org.apache.arrow.flatbuf.Type.Int);
    org.apache.arrow.flatbuf.Field.addType(fb, intType);
    org.apache.arrow.flatbuf.Field.addCustomMetadata(fb, meta);
    int field = org.apache.arrow.flatbuf.Field.endField(fb);
    int fields = org.apache.arrow.flatbuf.Schema.createFieldsVector(fb, new int[] {field});
    org.apache.arrow.flatbuf.Schema.startSchema(fb);
    org.apache.arrow.flatbuf.Schema.addFields(fb, fields);
    int schema = org.apache.arrow.flatbuf.Schema.endSchema(fb);
    Message.startMessage(fb);
    Message.addVersion(fb, MetadataVersion.V5);
    Message.addHeaderType(fb, MessageHeader.Schema);
    Message.addHeader(fb, schema);
    fb.finish(Message.endMessage(fb));
    byte[] m = fb.sizedByteArray();
    int padded = (m.length + 7) & -8;
    byte[] b =
        ByteBuffer.allocate(8 + padded + 8)
            .order(ByteOrder.LITTLE_ENDIAN)
            .putInt(-1)
            .putInt(padded)
            .put(m)
            .array();
    assertTrue(rejects(b).getMessage().contains("overlapping strings"));
  }

  @Test
  void emptyInputIsRejected() {
    assertTrue(rejects(new byte[0]).getMessage().contains("empty stream"));
    List<byte[]> bad = List.of(new byte[3], new byte[] {-1, -1, -1, -1, 1});
    for (byte[] b : bad) {
      rejects(b);
    }
  }

  private static void replace(byte[] b, String from, String to) {
    byte[] f = from.getBytes(StandardCharsets.UTF_8);
    byte[] t = to.getBytes(StandardCharsets.UTF_8);
    for (int i = 0; i + f.length <= b.length; i++) {
      if (Arrays.equals(b, i, i + f.length, f, 0, f.length)) {
        System.arraycopy(t, 0, b, i, t.length);
        return;
      }
    }
    throw new AssertionError("'" + from + "' not found in the shard");
  }
}
