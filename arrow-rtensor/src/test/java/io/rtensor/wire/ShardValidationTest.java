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
    byte[] valid = shard(DType.UINT8, 3);
    ShardMessages.Frame schema = ShardMessages.of(valid).schema();
    com.google.flatbuffers.FlatBufferBuilder fb = new com.google.flatbuffers.FlatBufferBuilder();
    RecordBatch.startNodesVector(fb, 0);
    int nodes = fb.endVector();
    RecordBatch.startBuffersVector(fb, 0);
    int buffers = fb.endVector();
    int rb = RecordBatch.createRecordBatch(fb, 3, nodes, buffers, 0, 0);
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
