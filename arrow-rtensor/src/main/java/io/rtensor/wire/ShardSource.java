package io.rtensor.wire;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.SeekableByteChannel;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.util.MemoryUtil;

/** Sequential input of a shard decoder: small metadata reads, and the body landed once. */
abstract class ShardSource {
  /** Bytes consumed so far (the offset errors report). */
  abstract long position();

  /** Bytes left, or -1 if unknown until read (a channel). */
  abstract long remaining();

  /**
   * Reads up to {@code n} bytes (n is bounded by the metadata limit); returns a little-endian
   * buffer of what was available, fewer than {@code n} only at the end of input.
   */
  abstract ByteBuffer read(int n) throws IOException;

  /**
   * The next {@code n} bytes as an Arrow buffer holding one reference for the caller, or null if
   * the input ends first (nothing is then left allocated). Called only after {@code n} passed the
   * limits.
   */
  abstract ArrowBuf body(long n, BufferAllocator allocator) throws IOException;

  /** A byte array: metadata is read in place, the body is copied once into Arrow memory. */
  static final class OfBytes extends ShardSource {
    private final byte[] bytes;
    private final int start;
    private final int end;
    private int pos;

    OfBytes(byte[] bytes, int offset, int length) {
      this.bytes = bytes;
      this.start = offset;
      this.end = offset + length;
      this.pos = offset;
    }

    @Override
    long position() {
      return pos - start;
    }

    @Override
    long remaining() {
      return end - pos;
    }

    @Override
    ByteBuffer read(int n) {
      int m = Math.min(n, end - pos);
      ByteBuffer b = ByteBuffer.wrap(bytes, pos, m).slice().order(ByteOrder.LITTLE_ENDIAN);
      pos += m;
      return b;
    }

    @Override
    ArrowBuf body(long n, BufferAllocator allocator) {
      if (n > end - pos) {
        return null;
      }
      ArrowBuf buf = allocator.buffer(n);
      MemoryUtil.copyToMemory(bytes, pos, buf.memoryAddress(), n);
      pos += (int) n;
      return buf;
    }
  }

  /** Arrow memory: metadata is read in place, the body is a slice (no copy). */
  static final class OfArrowBuf extends ShardSource {
    private final ArrowBuf buf;
    private final long start;
    private final long end;
    private long pos;

    OfArrowBuf(ArrowBuf buf, long offset, long length) {
      this.buf = buf;
      this.start = offset;
      this.end = offset + length;
      this.pos = offset;
    }

    @Override
    long position() {
      return pos - start;
    }

    @Override
    long remaining() {
      return end - pos;
    }

    @Override
    ByteBuffer read(int n) {
      int m = (int) Math.min(n, end - pos);
      ByteBuffer b = buf.nioBuffer(pos, m).order(ByteOrder.LITTLE_ENDIAN);
      pos += m;
      return b;
    }

    @Override
    ArrowBuf body(long n, BufferAllocator allocator) {
      if (n > end - pos) {
        return null;
      }
      ArrowBuf slice = buf.slice(pos, n);
      buf.getReferenceManager().retain();
      pos += n;
      return slice;
    }
  }

  /**
   * A channel. When it knows its size (a {@link SeekableByteChannel}, such as a file), declared
   * lengths are checked against what is left and the body is read straight into a buffer of its
   * size. Otherwise nothing is reserved for bytes that have not arrived: metadata and body are read
   * into buffers that start small and double as the bytes come in (the body is then copied once
   * more, in total, than it is long), so a short stream claiming a large body fails having reserved
   * little.
   */
  static final class OfChannel extends ShardSource {
    /** The first reservation for a body of unknown arrival. */
    static final long FIRST_BODY_CHUNK = 1 << 20;

    private static final int FIRST_METADATA_CHUNK = 64 << 10;
    private static final int CHUNK = 1 << 30;
    private final ReadableByteChannel channel;
    private final long end;
    private long pos;

    OfChannel(ReadableByteChannel channel) throws IOException {
      this.channel = channel;
      this.end =
          channel instanceof SeekableByteChannel seekable
              ? Math.max(0, seekable.size() - seekable.position())
              : -1;
    }

    @Override
    long position() {
      return pos;
    }

    @Override
    long remaining() {
      return end < 0 ? -1 : Math.max(0, end - pos);
    }

    @Override
    ByteBuffer read(int n) throws IOException {
      long left = remaining();
      int size = left >= 0 ? (int) Math.min(n, left) : Math.min(n, FIRST_METADATA_CHUNK);
      ByteBuffer b = ByteBuffer.allocate(size);
      fill(b);
      while (!b.hasRemaining() && b.capacity() < n) {
        ByteBuffer bigger = ByteBuffer.allocate((int) Math.min(n, 2L * b.capacity()));
        bigger.put(b.flip());
        b = bigger;
        fill(b);
      }
      b.flip();
      pos += b.remaining();
      return b.order(ByteOrder.LITTLE_ENDIAN);
    }

    @Override
    ArrowBuf body(long n, BufferAllocator allocator) throws IOException {
      long left = remaining();
      if (left >= 0 && n > left) {
        return null;
      }
      long capacity = left >= 0 ? n : Math.min(n, FIRST_BODY_CHUNK);
      ArrowBuf buf = allocator.buffer(capacity);
      boolean ok = false;
      try {
        long have = 0;
        while (true) {
          have += fill(buf, have, capacity);
          if (have < capacity) {
            return null; // the input ended first
          }
          if (have == n) {
            ok = true;
            return buf;
          }
          // Every byte reserved so far has arrived: reserve more, at most what the body needs.
          long next = Math.min(n, 2 * capacity);
          ArrowBuf bigger = allocator.buffer(next);
          try {
            bigger.setBytes(0, buf, 0, have);
          } catch (RuntimeException e) {
            bigger.getReferenceManager().release();
            throw e;
          }
          buf.getReferenceManager().release();
          buf = bigger;
          capacity = next;
        }
      } finally {
        if (!ok) {
          buf.getReferenceManager().release();
        }
      }
    }

    /** Reads into {@code [from, to)} of {@code buf} until full or the input ends; returns bytes. */
    private long fill(ArrowBuf buf, long from, long to) throws IOException {
      long done = from;
      while (done < to) {
        int m = (int) Math.min(CHUNK, to - done);
        ByteBuffer target = buf.nioBuffer(done, m);
        fill(target);
        done += target.position();
        pos += target.position();
        if (target.hasRemaining()) {
          break;
        }
      }
      return done - from;
    }

    private void fill(ByteBuffer b) throws IOException {
      while (b.hasRemaining()) {
        if (channel.read(b) < 0) {
          return;
        }
      }
    }
  }
}
