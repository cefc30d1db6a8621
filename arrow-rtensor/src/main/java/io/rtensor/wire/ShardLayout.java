package io.rtensor.wire;

import com.google.flatbuffers.FlatBufferBuilder;
import io.rtensor.tensor.ColumnSpec;
import io.rtensor.tensor.Tensor;
import io.rtensor.tensor.TensorBatch;
import io.rtensor.tensor.TensorFields;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import org.apache.arrow.flatbuf.Buffer;
import org.apache.arrow.flatbuf.FieldNode;
import org.apache.arrow.flatbuf.Message;
import org.apache.arrow.flatbuf.MessageHeader;
import org.apache.arrow.flatbuf.MetadataVersion;
import org.apache.arrow.flatbuf.RecordBatch;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.ReferenceManager;
import org.apache.arrow.vector.ipc.message.IpcOption;
import org.apache.arrow.vector.ipc.message.MessageSerializer;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.Schema;

/**
 * Where every byte of an encoded shard goes: the framed schema and record batch messages, and the
 * offset of each tensor's bytes in the body. Computed before any byte is written, so the encoded
 * size is known and each tensor is copied exactly once, straight to its destination.
 */
final class ShardLayout {
  /** Body buffers start at multiples of this (the IPC format requires 8). */
  static final int ALIGNMENT = 8;

  static final byte[] END_OF_STREAM = {-1, -1, -1, -1, 0, 0, 0, 0};

  final byte[] schemaFrame;
  final byte[] batchFrame;
  final List<ArrowBuf> buffers = new ArrayList<>();
  final List<Long> offsets = new ArrayList<>();
  final List<Long> lengths = new ArrayList<>();
  final long bodyLength;

  private ShardLayout(List<ColumnSpec> columns, long rows, List<ArrowBuf> tensorBuffers) {
    List<Field> fields = new ArrayList<>(columns.size());
    for (ColumnSpec c : columns) {
      fields.add(TensorFields.field(c));
    }
    schemaFrame = frame(MessageSerializer.serializeMetadata(new Schema(fields), IpcOption.DEFAULT));
    List<long[]> nodes = new ArrayList<>(); // {length, nullCount}
    List<long[]> bufs = new ArrayList<>(); // {offset, length}
    long at = 0;
    for (ColumnSpec c : columns) {
      nodes.add(new long[] {rows, 0});
      bufs.add(new long[] {at, 0}); // no validity bitmap: columns hold no nulls
      if (!c.scalar() && c.rowShape().rank() > 0) {
        nodes.add(new long[] {rows * c.rowShape().numel(), 0});
        bufs.add(new long[] {at, 0});
      }
      long n = c.shape(rows).byteSize(c.dtype());
      bufs.add(new long[] {at, n});
      offsets.add(at);
      lengths.add(n);
      at = align(at + n);
    }
    if (tensorBuffers != null) {
      buffers.addAll(tensorBuffers);
    }
    bodyLength = at;
    batchFrame = frame(recordBatchMessage(rows, nodes, bufs, bodyLength));
  }

  /** The layout of a batch, with its tensors' buffers to copy from. */
  static ShardLayout of(TensorBatch batch) {
    List<ArrowBuf> tensorBuffers = new ArrayList<>(batch.size());
    for (Tensor t : batch.tensors().values()) {
      // Read only: a view over the tensor's bytes (read-only tensors included), which the batch
      // keeps alive while encoding.
      tensorBuffers.add(
          new ArrowBuf(ReferenceManager.NO_OP, null, t.byteSize(), t.memoryAddress()));
    }
    return new ShardLayout(batch.columns(), batch.rows(), tensorBuffers);
  }

  /**
   * The layout of a shard of {@code columns} and {@code rows} rows whose bytes are written by their
   * producer ({@link #buffers} is empty).
   */
  static ShardLayout of(List<ColumnSpec> columns, long rows) {
    if (columns.isEmpty()) {
      throw new IllegalArgumentException("a shard has at least one column");
    }
    if (rows < 0) {
      throw new IllegalArgumentException("rows must be >= 0, got " + rows);
    }
    for (ColumnSpec c : columns) {
      if (c.scalar() && rows != 1) {
        throw new IllegalArgumentException(
            "a shard with scalar column '" + c.name() + "' has one row, not " + rows);
      }
    }
    return new ShardLayout(columns, rows, null);
  }

  long totalBytes() {
    return schemaFrame.length + batchFrame.length + bodyLength + END_OF_STREAM.length;
  }

  static long align(long n) {
    return (n + ALIGNMENT - 1) & -ALIGNMENT;
  }

  private static ByteBuffer recordBatchMessage(
      long rows, List<long[]> nodes, List<long[]> bufs, long bodyLength) {
    FlatBufferBuilder b = new FlatBufferBuilder(64 + 16 * (nodes.size() + bufs.size()));
    // Struct vectors are built back to front.
    RecordBatch.startNodesVector(b, nodes.size());
    for (int i = nodes.size() - 1; i >= 0; i--) {
      FieldNode.createFieldNode(b, nodes.get(i)[0], nodes.get(i)[1]);
    }
    int nodesOffset = b.endVector();
    RecordBatch.startBuffersVector(b, bufs.size());
    for (int i = bufs.size() - 1; i >= 0; i--) {
      Buffer.createBuffer(b, bufs.get(i)[0], bufs.get(i)[1]);
    }
    int buffersOffset = b.endVector();
    RecordBatch.startRecordBatch(b);
    RecordBatch.addLength(b, rows);
    RecordBatch.addNodes(b, nodesOffset);
    RecordBatch.addBuffers(b, buffersOffset);
    int batchOffset = RecordBatch.endRecordBatch(b);
    Message.startMessage(b);
    Message.addVersion(b, MetadataVersion.V5);
    Message.addHeaderType(b, MessageHeader.RecordBatch);
    Message.addHeader(b, batchOffset);
    Message.addBodyLength(b, bodyLength);
    b.finish(Message.endMessage(b));
    return b.dataBuffer();
  }

  /** Continuation marker, padded metadata length, metadata, zero padding to 8 bytes. */
  private static byte[] frame(ByteBuffer metadata) {
    int n = metadata.remaining();
    int padded = (int) align(n);
    byte[] out = new byte[8 + padded];
    ByteBuffer w = ByteBuffer.wrap(out).order(ByteOrder.LITTLE_ENDIAN);
    w.putInt(-1).putInt(padded).put(metadata.duplicate());
    return out;
  }
}
