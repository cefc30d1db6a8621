package io.rtensor.transport.internal;

import io.grpc.HasByteBuffer;
import io.grpc.MethodDescriptor;
import io.rtensor.memory.BlockPool;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import org.apache.arrow.flatbuf.Buffer;
import org.apache.arrow.flatbuf.FieldNode;
import org.apache.arrow.flatbuf.Message;
import org.apache.arrow.flatbuf.MessageHeader;
import org.apache.arrow.flatbuf.RecordBatch;
import org.apache.arrow.flight.impl.Flight;
import org.apache.arrow.flight.impl.FlightServiceGrpc;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.ipc.message.ArrowFieldNode;
import org.apache.arrow.vector.ipc.message.ArrowRecordBatch;

/**
 * Reads the {@code FlightData} messages of a DoGet straight from gRPC's receive buffers: the body
 * of each message is copied once, into an {@link ArrowBuf} of the caller's allocator.
 *
 * <p>Arrow Java 19's {@code FlightStream} lands each body in a fresh heap {@code byte[]} and copies
 * it again into Arrow memory of the client's allocator; for a 16 MiB shard that is two extra passes
 * over the bytes and 16 MiB of heap garbage per message. This reader speaks the same protocol (the
 * Flight {@code DoGet} method, a {@code Ticket} in, {@code FlightData} out) with a response
 * marshaller that hands over gRPC's own stream, read here field by field.
 */
final class DoGetReader {
  /** Flight's DoGet, with the responses left as gRPC's raw message streams. */
  static final MethodDescriptor<Flight.Ticket, InputStream> DO_GET =
      FlightServiceGrpc.getDoGetMethod().toBuilder(
              FlightServiceGrpc.getDoGetMethod().getRequestMarshaller(), new Raw())
          .build();

  // FlightData field numbers (Flight.proto).
  private static final int DATA_HEADER = 2;
  private static final int DATA_BODY = 1000;
  private static final int COPY_CHUNK = 64 << 10;

  private DoGetReader() {}

  /** One FlightData message: its IPC message header and body (null if it has none). */
  record Frame(Message header, ArrowBuf body) implements AutoCloseable {
    /**
     * The record batch this message holds: its buffers are slices of the body, each with its own
     * reference (the frame keeps its own).
     *
     * @throws IOException if the header is not a record batch or names bytes past the body
     */
    ArrowRecordBatch recordBatch(BufferAllocator allocator) throws IOException {
      if (header.headerType() != MessageHeader.RecordBatch) {
        throw new IOException("IPC message type " + header.headerType() + " is no record batch");
      }
      RecordBatch rb = (RecordBatch) header.header(new RecordBatch());
      if (rb.compression() != null) {
        throw new IOException("compressed record batches are not supported");
      }
      ArrowBuf data = body != null ? body : allocator.getEmpty();
      List<ArrowFieldNode> nodes = new ArrayList<>(rb.nodesLength());
      for (int i = 0; i < rb.nodesLength(); i++) {
        FieldNode n = rb.nodes(i);
        nodes.add(new ArrowFieldNode(n.length(), n.nullCount()));
      }
      List<ArrowBuf> buffers = new ArrayList<>(rb.buffersLength());
      for (int i = 0; i < rb.buffersLength(); i++) {
        Buffer b = rb.buffers(i);
        if (b.offset() < 0 || b.length() < 0 || b.offset() > data.capacity() - b.length()) {
          throw new IOException(
              "buffer " + i + " [" + b.offset() + ", +" + b.length() + ") is outside the body");
        }
        buffers.add(data.slice(b.offset(), b.length()));
      }
      if (rb.length() < 0 || rb.length() > Integer.MAX_VALUE) {
        throw new IOException("record batch of " + rb.length() + " rows");
      }
      return new ArrowRecordBatch((int) rb.length(), nodes, buffers);
    }

    @Override
    public void close() {
      if (body != null) {
        body.close();
      }
    }
  }

  /**
   * Parses one FlightData message from {@code in}; the body lands in a buffer of {@code allocator}
   * (taken from {@code pool} unless it is null) that the caller closes (through the frame).
   */
  static Frame read(InputStream in, BufferAllocator allocator, BlockPool pool) throws IOException {
    // gRPC hands over a message once it has received it whole: these reads never wait on the peer.
    byte[] header = null;
    ArrowBuf body = null;
    try {
      int first;
      while ((first = in.read()) >= 0) {
        long tag = readVarint(first, in);
        long field = tag >>> 3;
        switch ((int) (tag & 7)) {
          case 0 -> readVarint(read(in), in);
          case 1 -> skip(in, 8);
          case 5 -> skip(in, 4);
          case 2 -> {
            long length = readVarint(read(in), in);
            if (length > Integer.MAX_VALUE) {
              throw new IOException("FlightData field of " + length + " bytes is too large");
            }
            int size = (int) length;
            if (field == DATA_HEADER) {
              header = new byte[size];
              readFully(in, header);
            } else if (field == DATA_BODY) {
              if (body != null) {
                body.close();
                body = null;
              }
              body = pool != null ? pool.buffer(allocator, size) : allocator.buffer(size);
              copyInto(in, body, size);
            } else {
              skip(in, size);
            }
          }
          default -> throw new IOException("unsupported protobuf wire type in FlightData: " + tag);
        }
      }
      if (header == null) {
        throw new IOException("a FlightData message without an IPC header");
      }
      return new Frame(Message.getRootAsMessage(ByteBuffer.wrap(header)), body);
    } catch (IOException | RuntimeException e) {
      if (body != null) {
        body.close();
      }
      throw e;
    }
  }

  /** Copies {@code size} bytes of {@code in} into {@code dst}, from gRPC's buffers if it can. */
  private static void copyInto(InputStream in, ArrowBuf dst, int size) throws IOException {
    long at = 0;
    if (in instanceof HasByteBuffer h && h.byteBufferSupported()) {
      while (at < size) {
        ByteBuffer src = h.getByteBuffer();
        if (src == null) {
          throw new EOFException("FlightData body ended early");
        }
        int n = (int) Math.min(src.remaining(), size - at);
        src.limit(src.position() + n);
        dst.setBytes(at, src);
        skip(in, n);
        at += n;
      }
    } else {
      byte[] chunk = new byte[(int) Math.min(size, COPY_CHUNK)];
      while (at < size) {
        int n = in.read(chunk, 0, (int) Math.min(chunk.length, size - at));
        if (n < 0) {
          throw new EOFException("FlightData body ended early");
        }
        dst.setBytes(at, chunk, 0, n);
        at += n;
      }
    }
    dst.writerIndex(size);
  }

  private static int read(InputStream in) throws IOException {
    int b = in.read();
    if (b < 0) {
      throw new EOFException("FlightData ended inside a field");
    }
    return b;
  }

  private static long readVarint(int first, InputStream in) throws IOException {
    long value = first & 0x7f;
    int b = first;
    for (int shift = 7; (b & 0x80) != 0; shift += 7) {
      if (shift > 63) {
        throw new IOException("malformed varint in FlightData");
      }
      b = read(in);
      value |= (long) (b & 0x7f) << shift;
    }
    return value;
  }

  private static void readFully(InputStream in, byte[] b) throws IOException {
    int at = 0;
    while (at < b.length) {
      int n = in.read(b, at, b.length - at);
      if (n < 0) {
        throw new EOFException("FlightData ended inside a field");
      }
      at += n;
    }
  }

  private static void skip(InputStream in, long n) throws IOException {
    while (n > 0) {
      long s = in.skip(n);
      if (s <= 0) {
        if (in.read() < 0) {
          throw new EOFException("FlightData ended inside a field");
        }
        s = 1;
      }
      n -= s;
    }
  }

  /** Leaves a message as gRPC's stream; it is valid until the listener's onMessage returns. */
  private static final class Raw implements MethodDescriptor.Marshaller<InputStream> {
    @Override
    public InputStream stream(InputStream value) {
      return value;
    }

    @Override
    public InputStream parse(InputStream stream) {
      return stream;
    }
  }
}
