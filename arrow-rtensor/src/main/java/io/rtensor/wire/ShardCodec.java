package io.rtensor.wire;

import io.rtensor.tensor.ColumnSpec;
import io.rtensor.tensor.Tensor;
import io.rtensor.tensor.TensorBatch;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.function.IntFunction;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.util.MemoryUtil;

/**
 * Encodes a {@link TensorBatch} as an Arrow IPC stream (one shard) and decodes it back.
 *
 * <p>An encoded shard is: the schema message, one record batch message whose body holds each
 * tensor's bytes (8-byte aligned, no validity bitmaps), and the end-of-stream marker. Encoding
 * copies each tensor's bytes once, straight into the destination. Decoding validates all framing
 * and metadata against the input and the {@link DecodeLimits} before it allocates, then lands the
 * body in Arrow memory with one copy (from {@code byte[]} or a file channel) or none (from an
 * {@link ArrowBuf}); from a channel of unknown length the body is reserved as it arrives (see
 * {@link #decode(ReadableByteChannel, BufferAllocator, DecodeLimits)}). The decoded tensors are
 * slices of that body. A bad input throws {@link WireFormatException} and leaves nothing allocated.
 */
public final class ShardCodec {
  private static final int STREAM_CHUNK = 1 << 20;
  private static final int CHANNEL_CHUNK = 1 << 30;

  private ShardCodec() {}

  // ---------------------------------------------------------------- encoding

  /** Bytes {@link #encode(TensorBatch)} would produce. */
  public static long encodedSize(TensorBatch batch) {
    return ShardLayout.of(batch).totalBytes();
  }

  /** The shard as a byte array (what the Ray object store takes). */
  public static byte[] encode(TensorBatch batch) {
    return encode(batch, byte[]::new);
  }

  /**
   * The shard as a byte array that {@code arrays} supplies: it is asked once for an array of
   * exactly the shard's length (it may hand back a reused one; its old contents are all
   * overwritten, padding included). Each tensor's bytes are copied once, straight into it.
   *
   * @throws IllegalArgumentException if the shard does not fit a byte array, or {@code arrays}
   *     returns one of another length
   */
  public static byte[] encode(TensorBatch batch, IntFunction<byte[]> arrays) {
    ShardLayout layout = ShardLayout.of(batch);
    long total = layout.totalBytes();
    if (total > Integer.MAX_VALUE - 8) {
      throw new IllegalArgumentException(
          "shard of " + total + " bytes does not fit a byte[]; encode to a channel or ArrowBuf");
    }
    byte[] out = arrays.apply((int) total);
    if (out == null || out.length != total) {
      throw new IllegalArgumentException(
          "asked for a byte[] of " + total + " bytes, got " + (out == null ? null : out.length));
    }
    int at = 0;
    System.arraycopy(layout.schemaFrame, 0, out, at, layout.schemaFrame.length);
    at += layout.schemaFrame.length;
    System.arraycopy(layout.batchFrame, 0, out, at, layout.batchFrame.length);
    at += layout.batchFrame.length;
    int end = 0; // body bytes written so far; the gaps between them are alignment padding
    for (int i = 0; i < layout.buffers.size(); i++) {
      ArrowBuf src = layout.buffers.get(i);
      int off = layout.offsets.get(i).intValue();
      Arrays.fill(out, at + end, at + off, (byte) 0);
      MemoryUtil.copyFromMemory(src.memoryAddress(), out, at + off, src.capacity());
      end = off + (int) src.capacity();
    }
    Arrays.fill(out, at + end, at + (int) layout.bodyLength, (byte) 0);
    at += (int) layout.bodyLength;
    System.arraycopy(ShardLayout.END_OF_STREAM, 0, out, at, ShardLayout.END_OF_STREAM.length);
    return out;
  }

  /** A single-tensor shard (a batch of one column) as a byte array. */
  public static byte[] encode(String name, Tensor tensor) {
    // The batch borrows the tensor: share() takes a reference that the batch then drops.
    try (TensorBatch batch = TensorBatch.of(name, tensor.share())) {
      return encode(batch);
    }
  }

  /** Writes the shard to a stream; returns the bytes written. */
  public static long encode(TensorBatch batch, OutputStream out) throws IOException {
    ShardLayout layout = ShardLayout.of(batch);
    out.write(layout.schemaFrame);
    out.write(layout.batchFrame);
    byte[] chunk = new byte[(int) Math.min(STREAM_CHUNK, Math.max(8, layout.bodyLength))];
    long at = 0;
    for (int i = 0; i < layout.buffers.size(); i++) {
      ArrowBuf src = layout.buffers.get(i);
      writeZeros(out, layout.offsets.get(i) - at, chunk);
      for (long done = 0; done < src.capacity(); ) {
        int n = (int) Math.min(chunk.length, src.capacity() - done);
        MemoryUtil.copyFromMemory(src.memoryAddress() + done, chunk, 0, n);
        out.write(chunk, 0, n);
        done += n;
      }
      at = layout.offsets.get(i) + src.capacity();
    }
    writeZeros(out, layout.bodyLength - at, chunk);
    out.write(ShardLayout.END_OF_STREAM);
    return layout.totalBytes();
  }

  private static void writeZeros(OutputStream out, long n, byte[] chunk) throws IOException {
    if (n > 0) {
      Arrays.fill(chunk, 0, (int) n, (byte) 0); // n < ALIGNMENT <= chunk.length
      out.write(chunk, 0, (int) n);
    }
  }

  /** Writes the shard to a channel without staging tensor bytes on the heap; returns bytes. */
  public static long encode(TensorBatch batch, WritableByteChannel out) throws IOException {
    ShardLayout layout = ShardLayout.of(batch);
    writeFully(out, ByteBuffer.wrap(layout.schemaFrame));
    writeFully(out, ByteBuffer.wrap(layout.batchFrame));
    long at = 0;
    for (int i = 0; i < layout.buffers.size(); i++) {
      ArrowBuf src = layout.buffers.get(i);
      long pad = layout.offsets.get(i) - at;
      writeFully(out, ByteBuffer.allocate((int) pad));
      for (long done = 0; done < src.capacity(); ) {
        int n = (int) Math.min(CHANNEL_CHUNK, src.capacity() - done);
        writeFully(out, src.nioBuffer(done, n));
        done += n;
      }
      at = layout.offsets.get(i) + src.capacity();
    }
    writeFully(out, ByteBuffer.allocate((int) (layout.bodyLength - at)));
    writeFully(out, ByteBuffer.wrap(ShardLayout.END_OF_STREAM));
    return layout.totalBytes();
  }

  private static void writeFully(WritableByteChannel out, ByteBuffer b) throws IOException {
    while (b.hasRemaining()) {
      out.write(b);
    }
  }

  /**
   * Writes the shard into {@code target} at its writer index and advances the writer index.
   *
   * @return bytes written
   * @throws IllegalArgumentException if the shard does not fit (see {@link #encodedSize}); nothing
   *     is written then
   */
  public static long encodeInto(TensorBatch batch, ArrowBuf target) {
    return encodeInto(batch, target, null);
  }

  /** How {@link #encodeInto(TensorBatch, ArrowBuf, BodyCopier)} copies each tensor's bytes. */
  @FunctionalInterface
  public interface BodyCopier {
    /** Copies {@code length} bytes from native address {@code src} to {@code dst}. */
    void copy(long dst, long src, long length);
  }

  /**
   * Writes the shard into {@code target} at its writer index and advances the writer index, copying
   * each tensor's bytes with {@code copier} (null: Arrow's own copy), for example {@link
   * io.rtensor.memory.BulkCopier} for large tensors.
   *
   * @return bytes written
   * @throws IllegalArgumentException if the shard does not fit (see {@link #encodedSize}); nothing
   *     is written then
   */
  public static long encodeInto(TensorBatch batch, ArrowBuf target, BodyCopier copier) {
    ShardLayout layout = ShardLayout.of(batch);
    return encodeInto(
        layout,
        target,
        (column, buf, offset, length) -> {
          ArrowBuf src = layout.buffers.get(column);
          if (copier == null) {
            buf.setBytes(offset, src, 0, length);
          } else {
            // In bounds: the whole shard fits (checked first) and the layout places this buffer.
            copier.copy(buf.memoryAddress() + offset, src.memoryAddress(), length);
          }
        });
  }

  /**
   * Writes the bytes of one column of a shard into the shard's own memory, where {@link
   * #encodeInto(List, long, ArrowBuf, ColumnWriter)} places them: a device-to-host DMA, say, so the
   * tensor's bytes are copied once, by their producer, and the framing around them by the CPU.
   */
  @FunctionalInterface
  public interface ColumnWriter {
    /**
     * Writes all {@code length} bytes of column {@code column} (in the order of the columns given)
     * into {@code target} at {@code offset}. A column of 0 bytes is not asked for.
     */
    void write(int column, ArrowBuf target, long offset, long length);
  }

  /** Bytes {@link #encodeInto(List, long, ArrowBuf, ColumnWriter)} writes for this shard. */
  public static long encodedSize(List<ColumnSpec> columns, long rows) {
    return ShardLayout.of(columns, rows).totalBytes();
  }

  /**
   * Writes a shard of {@code columns} and {@code rows} rows (1 for scalar columns) into {@code
   * target} at its writer index and advances the writer index: the framing (schema, record batch
   * header, alignment padding, end-of-stream marker) here, each column's bytes by {@code body}. The
   * result decodes like the encoding of a batch of these columns.
   *
   * @return bytes written
   * @throws IllegalArgumentException if the shard does not fit (nothing is written then), or the
   *     columns and rows do not describe a shard
   */
  public static long encodeInto(
      List<ColumnSpec> columns, long rows, ArrowBuf target, ColumnWriter body) {
    Objects.requireNonNull(body, "body");
    return encodeInto(ShardLayout.of(columns, rows), target, body);
  }

  /** The framing by the CPU, each column's bytes by {@code body}. */
  private static long encodeInto(ShardLayout layout, ArrowBuf target, ColumnWriter body) {
    long bodyStart = writeFraming(layout, target);
    long end = 0;
    for (int i = 0; i < layout.offsets.size(); i++) {
      long off = layout.offsets.get(i);
      long n = layout.lengths.get(i);
      target.setZero(bodyStart + end, off - end);
      if (n > 0) {
        body.write(i, target, bodyStart + off, n);
      }
      end = off + n;
    }
    target.setZero(bodyStart + end, layout.bodyLength - end);
    return finish(layout, target, bodyStart);
  }

  /**
   * Checks that the shard fits after the writer index and writes its two framed messages; returns
   * where the body starts.
   */
  private static long writeFraming(ShardLayout layout, ArrowBuf target) {
    long total = layout.totalBytes();
    long at = target.writerIndex();
    if (total > target.capacity() - at) {
      throw new IllegalArgumentException(
          "shard of "
              + total
              + " bytes does not fit: target has "
              + (target.capacity() - at)
              + " bytes after its writer index "
              + at);
    }
    target.setBytes(at, layout.schemaFrame);
    at += layout.schemaFrame.length;
    target.setBytes(at, layout.batchFrame);
    return at + layout.batchFrame.length;
  }

  /** Writes the end-of-stream marker after the body and moves the writer index past it. */
  private static long finish(ShardLayout layout, ArrowBuf target, long bodyStart) {
    long at = bodyStart + layout.bodyLength;
    target.setBytes(at, ShardLayout.END_OF_STREAM);
    target.writerIndex(at + ShardLayout.END_OF_STREAM.length);
    return layout.totalBytes();
  }

  // ---------------------------------------------------------------- decoding

  /** Decodes a shard from a byte array with the default limits. */
  public static TensorBatch decode(byte[] bytes, BufferAllocator allocator) {
    return decode(bytes, allocator, DecodeLimits.DEFAULT);
  }

  /**
   * Decodes a shard from a byte array: the body is copied once into memory from {@code allocator}.
   *
   * @throws WireFormatException if the bytes are not a valid shard within {@code limits}
   */
  public static TensorBatch decode(byte[] bytes, BufferAllocator allocator, DecodeLimits limits) {
    return decode(bytes, 0, bytes.length, allocator, limits);
  }

  /**
   * Decodes a shard from {@code length} bytes of {@code bytes} at {@code offset}: the body is
   * copied once into memory from {@code allocator}.
   *
   * @throws WireFormatException if the bytes are not a valid shard within {@code limits}
   */
  public static TensorBatch decode(
      byte[] bytes, int offset, int length, BufferAllocator allocator, DecodeLimits limits) {
    Objects.checkFromIndexSize(offset, length, bytes.length);
    try {
      return new ShardReader(new ShardSource.OfBytes(bytes, offset, length), allocator, limits)
          .read();
    } catch (IOException e) {
      throw new IllegalStateException("byte array reads do not fail", e);
    }
  }

  /**
   * Decodes a shard from the readable bytes of {@code buffer} ({@code [readerIndex, writerIndex)})
   * with the default limits; the indexes are not moved. See {@link #decode(ArrowBuf, long, long,
   * BufferAllocator, DecodeLimits)}.
   */
  public static TensorBatch decode(ArrowBuf buffer, BufferAllocator allocator) {
    return decode(
        buffer,
        buffer.readerIndex(),
        buffer.writerIndex() - buffer.readerIndex(),
        allocator,
        DecodeLimits.DEFAULT);
  }

  /**
   * Decodes a shard from {@code length} bytes of {@code buffer} at {@code offset} without copying:
   * the tensors are slices of {@code buffer}, each holding a reference (the caller still releases
   * its own). Where {@code allocator} shares {@code buffer}'s root allocator, the tensors' memory
   * is accounted to {@code allocator}.
   *
   * @throws WireFormatException if the bytes are not a valid shard within {@code limits}
   */
  public static TensorBatch decode(
      ArrowBuf buffer, long offset, long length, BufferAllocator allocator, DecodeLimits limits) {
    if (offset < 0 || length < 0 || offset > buffer.capacity() - length) {
      throw new IndexOutOfBoundsException(
          "range [" + offset + ", +" + length + ") of a buffer of " + buffer.capacity() + " bytes");
    }
    try {
      return new ShardReader(new ShardSource.OfArrowBuf(buffer, offset, length), allocator, limits)
          .read();
    } catch (IOException e) {
      throw new IllegalStateException("buffer reads do not fail", e);
    }
  }

  /** Decodes a shard from a channel with the default limits. */
  public static TensorBatch decode(ReadableByteChannel channel, BufferAllocator allocator)
      throws IOException {
    return decode(channel, allocator, DecodeLimits.DEFAULT);
  }

  /**
   * Decodes one shard from a channel into memory from {@code allocator}. Reads up to and including
   * the end-of-stream marker, no further (a writer that leaves the channel open must write the
   * marker, as this codec and pyarrow do).
   *
   * <p>A channel that knows its size (a {@link java.nio.channels.SeekableByteChannel}, such as a
   * file) has every declared length checked against what is left, and its body read straight into
   * one buffer. From any other channel, memory is reserved only as bytes arrive: the body buffer
   * starts at 1 MiB and doubles while it fills (copying what it holds), up to the declared length
   * within {@code limits}, so a short stream that claims a large body fails with a {@link
   * WireFormatException} having reserved little.
   *
   * @throws WireFormatException if the bytes are not a valid shard within {@code limits}
   * @throws IOException if the channel fails
   */
  public static TensorBatch decode(
      ReadableByteChannel channel, BufferAllocator allocator, DecodeLimits limits)
      throws IOException {
    return new ShardReader(new ShardSource.OfChannel(channel), allocator, limits).read();
  }
}
