package io.rtensor.wire;

import io.rtensor.tensor.ColumnSpec;
import io.rtensor.tensor.Tensor;
import io.rtensor.tensor.TensorBatch;
import io.rtensor.tensor.TensorFields;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.arrow.flatbuf.Buffer;
import org.apache.arrow.flatbuf.Field;
import org.apache.arrow.flatbuf.FieldNode;
import org.apache.arrow.flatbuf.FixedSizeList;
import org.apache.arrow.flatbuf.FloatingPoint;
import org.apache.arrow.flatbuf.Int;
import org.apache.arrow.flatbuf.KeyValue;
import org.apache.arrow.flatbuf.Message;
import org.apache.arrow.flatbuf.MessageHeader;
import org.apache.arrow.flatbuf.MetadataVersion;
import org.apache.arrow.flatbuf.RecordBatch;
import org.apache.arrow.flatbuf.Schema;
import org.apache.arrow.flatbuf.Type;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.types.FloatingPointPrecision;
import org.apache.arrow.vector.types.pojo.ArrowType;

/**
 * Reads one shard: validates the framing and every length, count and shape in the metadata against
 * the input and the limits, and only then lands the body and cuts the tensors from it.
 *
 * <p>Flatbuffer accessors trust their input; every read of decoded metadata here goes through a
 * bounded {@link ByteBuffer} (so a bad offset throws rather than reading elsewhere), vector lengths
 * are checked before any loop, and strings are read as byte slices, so malformed metadata ends in a
 * {@link WireFormatException}, never in a large allocation or a long loop.
 */
final class ShardReader {
  private static final int CONTINUATION = 0xFFFFFFFF;

  /** Writers pad the body to 8 (Arrow Java, pyarrow) or 64 bytes; allow any padding below 64. */
  private static final int MAX_BODY_PADDING = 64;

  private final ShardSource source;
  private final BufferAllocator allocator;
  private final DecodeLimits limits;

  ShardReader(ShardSource source, BufferAllocator allocator, DecodeLimits limits) {
    this.source = source;
    this.allocator = allocator;
    this.limits = limits;
  }

  /** A message's metadata, and where it started. */
  private record Frame(Message message, int metadataLength, long offset) {}

  /** What {@link #next()} returns when the input ends where a message could start. */
  private static final Frame END_OF_INPUT = new Frame(null, 0, -1);

  TensorBatch read() throws IOException {
    Frame first = next();
    if (first == null || first == END_OF_INPUT) {
      throw new WireFormatException("empty stream: expected a schema message", 0);
    }
    if (first.message.headerType() != MessageHeader.Schema) {
      throw new WireFormatException(
          "first message is " + headerName(first.message.headerType()) + ", expected Schema",
          first.offset);
    }
    List<ColumnSpec> columns = schema(first);
    if (first.message.bodyLength() != 0) {
      throw new WireFormatException(
          "schema message declares a body of " + first.message.bodyLength() + " bytes",
          first.offset);
    }
    TensorBatch batch = null;
    try {
      while (true) {
        long at = source.position();
        Frame f = next();
        if (f == END_OF_INPUT) {
          if (batch == null) {
            // Without a record batch only the end-of-stream marker says nothing was cut off.
            throw new WireFormatException(
                "input ends after the schema without a record batch or end-of-stream marker", at);
          }
          break;
        }
        if (f == null) {
          break;
        }
        byte type = f.message.headerType();
        if (type != MessageHeader.RecordBatch) {
          throw new WireFormatException(
              headerName(type)
                  + " message is not part of a shard"
                  + (type == MessageHeader.DictionaryBatch
                      ? " (dictionary-encoded columns are not supported)"
                      : ""),
              f.offset);
        }
        if (batch != null) {
          throw new WireFormatException(
              "a shard holds one record batch; found a second (combine chunks before writing)",
              f.offset);
        }
        batch = recordBatch(f, columns);
      }
      if (batch == null) {
        batch = emptyBatch(columns);
      }
      return batch;
    } catch (RuntimeException | IOException e) {
      if (batch != null) {
        batch.close();
      }
      throw e;
    }
  }

  /**
   * The next message's metadata; null at the end-of-stream marker, {@link #END_OF_INPUT} if the
   * input ends where a message could start.
   */
  private Frame next() throws IOException {
    long at = source.position();
    ByteBuffer prefix = source.read(8);
    if (prefix.remaining() == 0) {
      return END_OF_INPUT;
    }
    if (prefix.remaining() < 4) {
      throw new WireFormatException(
          "truncated message prefix: " + prefix.remaining() + " of 8 bytes", at);
    }
    int marker = prefix.getInt(0);
    if (marker != CONTINUATION) {
      throw new WireFormatException(
          String.format("bad continuation marker 0x%08x, expected 0xffffffff", marker), at);
    }
    if (prefix.remaining() < 8) {
      throw new WireFormatException(
          "truncated message prefix: " + prefix.remaining() + " of 8 bytes", at);
    }
    int length = prefix.getInt(4);
    if (length == 0) {
      return null;
    }
    if (length < 0 || length > limits.maxMetadataBytes()) {
      throw new WireFormatException(
          "metadata length "
              + Integer.toUnsignedLong(length)
              + " is outside [1, "
              + limits.maxMetadataBytes()
              + "]",
          at + 4);
    }
    long left = source.remaining();
    if (left >= 0 && length > left) {
      throw new WireFormatException(
          "metadata length " + length + " runs past the end of input (" + left + " bytes left)",
          at + 4);
    }
    ByteBuffer meta = source.read(length);
    if (meta.remaining() < length) {
      throw new WireFormatException(
          "truncated metadata: " + meta.remaining() + " of " + length + " bytes", at + 8);
    }
    Message message;
    short version;
    long bodyLength;
    try {
      message = Message.getRootAsMessage(meta);
      version = message.version();
      bodyLength = message.bodyLength();
      message.headerType();
    } catch (RuntimeException e) {
      throw malformed("message header", at + 8, e);
    }
    if (version != MetadataVersion.V4 && version != MetadataVersion.V5) {
      throw new WireFormatException(
          "unsupported metadata version " + version + " (V4 or V5 expected)", at + 8);
    }
    if (bodyLength < 0 || bodyLength > limits.maxBodyBytes()) {
      throw new WireFormatException(
          "body length " + bodyLength + " is outside [0, " + limits.maxBodyBytes() + "]", at + 8);
    }
    left = source.remaining();
    if (left >= 0 && bodyLength > left) {
      throw new WireFormatException(
          "body length " + bodyLength + " runs past the end of input (" + left + " bytes left)",
          at + 8);
    }
    return new Frame(message, length, at);
  }

  // ---------------------------------------------------------------- schema

  private List<ColumnSpec> schema(Frame f) {
    long at = f.offset + 8;
    try {
      Schema schema = (Schema) f.message.header(new Schema());
      if (schema == null) {
        throw new WireFormatException("schema message without a schema", at);
      }
      if (schema.endianness() != org.apache.arrow.flatbuf.Endianness.Little) {
        throw new WireFormatException("big-endian data is not supported", at);
      }
      int n = schema.fieldsLength();
      if (n < 0 || n > limits.maxColumns() || n > f.metadataLength / 4) {
        throw new WireFormatException(
            "schema declares " + n + " columns (limit " + limits.maxColumns() + ")", at);
      }
      List<ColumnSpec> out = new ArrayList<>(n);
      Set<String> names = new HashSet<>();
      for (int i = 0; i < n; i++) {
        ColumnSpec c = column(schema.fields(i), f.metadataLength, at, i);
        if (!names.add(c.name())) {
          throw new WireFormatException("duplicate column name '" + c.name() + "'", at);
        }
        out.add(c);
      }
      return out;
    } catch (WireFormatException e) {
      throw e;
    } catch (RuntimeException e) {
      throw malformed("schema", at, e);
    }
  }

  private ColumnSpec column(Field field, int metadataLength, long at, int index) {
    if (field == null) {
      throw new WireFormatException("column " + index + " is missing", at);
    }
    String name = utf8(field.nameAsByteBuffer());
    String where = "column " + index + " '" + name + "'";
    if (name.isEmpty()) {
      throw new WireFormatException("column " + index + " has an empty name", at);
    }
    if (field.dictionary() != null) {
      throw new WireFormatException(where + ": dictionary encoding is not supported", at);
    }
    ArrowType type = arrowType(field, where, at);
    int children = field.childrenLength();
    ArrowType childType = null;
    if (children < 0 || children > 1) {
      throw new WireFormatException(where + ": " + children + " child fields, at most 1", at);
    }
    if (children == 1) {
      Field child = field.children(0);
      if (child == null || child.childrenLength() != 0 || child.dictionary() != null) {
        throw new WireFormatException(where + ": unsupported nested child field", at);
      }
      childType = arrowType(child, where + " child", at);
    }
    Map<String, String> meta = new HashMap<>();
    int m = field.customMetadataLength();
    if (m < 0 || m > metadataLength / 4) {
      throw new WireFormatException(where + ": " + m + " metadata entries", at);
    }
    for (int i = 0; i < m; i++) {
      KeyValue kv = field.customMetadata(i);
      if (kv != null) {
        meta.put(utf8(kv.keyAsByteBuffer()), utf8(kv.valueAsByteBuffer()));
      }
    }
    try {
      return TensorFields.parse(name, type, childType, meta);
    } catch (IllegalArgumentException e) {
      throw new WireFormatException(e.getMessage(), at, e);
    }
  }

  private static ArrowType arrowType(Field field, String where, long at) {
    byte t = field.typeType();
    switch (t) {
      case Type.Int:
        {
          Int i = (Int) field.type(new Int());
          if (i == null) {
            break;
          }
          return new ArrowType.Int(i.bitWidth(), i.isSigned());
        }
      case Type.FloatingPoint:
        {
          FloatingPoint fp = (FloatingPoint) field.type(new FloatingPoint());
          if (fp == null) {
            break;
          }
          short p = fp.precision();
          if (p < 0 || p > 2) {
            throw new WireFormatException(where + ": unknown float precision " + p, at);
          }
          return new ArrowType.FloatingPoint(FloatingPointPrecision.values()[p]);
        }
      case Type.FixedSizeList:
        {
          FixedSizeList l = (FixedSizeList) field.type(new FixedSizeList());
          if (l == null) {
            break;
          }
          if (l.listSize() < 0) {
            throw new WireFormatException(where + ": negative list size " + l.listSize(), at);
          }
          return new ArrowType.FixedSizeList(l.listSize());
        }
      case Type.Bool:
        return ArrowType.Bool.INSTANCE;
      default:
        throw new WireFormatException(
            where
                + ": unsupported Arrow type "
                + (t > 0 && t < Type.names.length ? Type.names[t] : "#" + t),
            at);
    }
    throw new WireFormatException(where + ": type table missing", at);
  }

  // ---------------------------------------------------------------- record batch

  private TensorBatch recordBatch(Frame f, List<ColumnSpec> columns) throws IOException {
    long at = f.offset + 8;
    long bodyLength = f.message.bodyLength();
    long rows;
    long[][] nodes;
    long[][] buffers;
    try {
      RecordBatch rb = (RecordBatch) f.message.header(new RecordBatch());
      if (rb == null) {
        throw new WireFormatException("record batch message without a record batch", at);
      }
      if (rb.compression() != null) {
        throw new WireFormatException("compressed record batches are not supported", at);
      }
      rows = rb.length();
      int expectedNodes = 0;
      int expectedBuffers = 0;
      for (ColumnSpec c : columns) {
        boolean list = isList(c);
        expectedNodes += list ? 2 : 1;
        expectedBuffers += list ? 3 : 2;
      }
      if (rb.nodesLength() != expectedNodes || rb.buffersLength() != expectedBuffers) {
        throw new WireFormatException(
            "record batch has "
                + rb.nodesLength()
                + " field nodes and "
                + rb.buffersLength()
                + " buffers, the schema needs "
                + expectedNodes
                + " and "
                + expectedBuffers,
            at);
      }
      nodes = new long[expectedNodes][];
      FieldNode node = new FieldNode();
      for (int i = 0; i < expectedNodes; i++) {
        rb.nodes(node, i);
        nodes[i] = new long[] {node.length(), node.nullCount()};
      }
      buffers = new long[expectedBuffers][];
      Buffer buf = new Buffer();
      for (int i = 0; i < expectedBuffers; i++) {
        rb.buffers(buf, i);
        buffers[i] = new long[] {buf.offset(), buf.length()};
      }
    } catch (WireFormatException e) {
      throw e;
    } catch (RuntimeException e) {
      throw malformed("record batch", at, e);
    }
    if (rows < 0) {
      throw new WireFormatException("negative row count " + rows, at);
    }
    // Check every node and buffer against the schema and the body before allocating.
    long[] dataOffsets = new long[columns.size()];
    long usedEnd = 0;
    int n = 0;
    int b = 0;
    for (int i = 0; i < columns.size(); i++) {
      ColumnSpec c = columns.get(i);
      String where = "column '" + c.name() + "'";
      if (c.scalar() && rows != 1) {
        throw new WireFormatException(where + " is rank 0 but the batch has " + rows + " rows", at);
      }
      checkNode(nodes[n++], rows, where, at);
      checkBuffer(buffers[b++], bodyLength, where + " validity", at);
      long elements = rows;
      if (isList(c)) {
        elements = multiply(rows, c.rowShape().numel(), where, at);
        checkNode(nodes[n++], elements, where + " values", at);
        checkBuffer(buffers[b++], bodyLength, where + " values validity", at);
      }
      long[] data = buffers[b++];
      checkBuffer(data, bodyLength, where + " data", at);
      long expected = multiply(elements, c.dtype().byteWidth(), where, at);
      if (data[1] != expected) {
        throw new WireFormatException(
            where
                + ": data buffer holds "
                + data[1]
                + " bytes, shape "
                + c.shape(rows)
                + " of "
                + c.dtype()
                + " needs "
                + expected,
            at);
      }
      dataOffsets[i] = data[0];
      usedEnd = Math.max(usedEnd, data[0] + data[1]);
    }
    // The body is the buffers plus alignment padding; a longer one would make a reader allocate
    // memory that no tensor uses (and, from a channel, before the bytes have arrived).
    if (bodyLength - usedEnd >= MAX_BODY_PADDING) {
      throw new WireFormatException(
          "body length "
              + bodyLength
              + " exceeds the "
              + usedEnd
              + " bytes its buffers use by more than alignment padding",
          at);
    }
    long bodyAt = source.position();
    ArrowBuf body = source.body(bodyLength, allocator);
    if (body == null) {
      throw new WireFormatException(
          "truncated body: input ends before the " + bodyLength + "-byte body", bodyAt);
    }
    LinkedHashMap<String, Tensor> tensors = new LinkedHashMap<>();
    try {
      for (int i = 0; i < columns.size(); i++) {
        ColumnSpec c = columns.get(i);
        tensors.put(
            c.name(), Tensor.over(body, dataOffsets[i], c.dtype(), c.shape(rows), allocator));
      }
      try {
        return TensorBatch.of(tensors);
      } catch (IllegalArgumentException e) {
        throw new WireFormatException(e.getMessage(), at, e);
      }
    } catch (RuntimeException e) {
      tensors.values().forEach(Tensor::close);
      throw e;
    } finally {
      body.getReferenceManager().release();
    }
  }

  private TensorBatch emptyBatch(List<ColumnSpec> columns) {
    LinkedHashMap<String, Tensor> tensors = new LinkedHashMap<>();
    try {
      for (ColumnSpec c : columns) {
        if (c.scalar()) {
          throw new WireFormatException(
              "column '" + c.name() + "' is rank 0 but the stream has no record batch",
              source.position());
        }
        tensors.put(c.name(), Tensor.allocate(allocator, c.dtype(), c.shape(0)));
      }
      return TensorBatch.of(tensors);
    } catch (RuntimeException e) {
      tensors.values().forEach(Tensor::close);
      throw e;
    }
  }

  private static boolean isList(ColumnSpec c) {
    return !c.scalar() && c.rowShape().rank() > 0;
  }

  private static void checkNode(long[] node, long length, String where, long at) {
    if (node[0] != length) {
      throw new WireFormatException(
          where + ": field node length " + node[0] + ", expected " + length, at);
    }
    if (node[1] != 0) {
      throw new WireFormatException(where + ": " + node[1] + " nulls; tensors hold no nulls", at);
    }
  }

  private static void checkBuffer(long[] buf, long bodyLength, String where, long at) {
    if (buf[0] < 0 || buf[1] < 0 || buf[0] > bodyLength || buf[1] > bodyLength - buf[0]) {
      throw new WireFormatException(
          where
              + ": buffer [offset "
              + buf[0]
              + ", length "
              + buf[1]
              + "] lies outside the "
              + bodyLength
              + "-byte body",
          at);
    }
  }

  private static long multiply(long a, long b, String where, long at) {
    try {
      return Math.multiplyExact(a, b);
    } catch (ArithmeticException e) {
      throw new WireFormatException(where + ": size " + a + " x " + b + " overflows", at);
    }
  }

  private static String utf8(ByteBuffer b) {
    return b == null ? "" : StandardCharsets.UTF_8.decode(b).toString();
  }

  private static String headerName(byte type) {
    return type >= 0 && type < MessageHeader.names.length
        ? MessageHeader.names[type]
        : "unknown (#" + type + ")";
  }

  private static WireFormatException malformed(String what, long at, RuntimeException e) {
    return new WireFormatException(
        "malformed " + what + " flatbuffer: " + e.getClass().getSimpleName(), at, e);
  }
}
