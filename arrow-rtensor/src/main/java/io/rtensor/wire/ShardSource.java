package io.rtensor.wire;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.ReadableByteChannel;
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

  /** A channel: metadata is read into small heap buffers, the body straight into Arrow memory. */
  static final class OfChannel extends ShardSource {
    private static final int CHUNK = 1 << 30;
    private final ReadableByteChannel channel;
    private long pos;

    OfChannel(ReadableByteChannel channel) {
      this.channel = channel;
    }

    @Override
    long position() {
      return pos;
    }

    @Override
    long remaining() {
      return -1;
    }

    @Override
    ByteBuffer read(int n) throws IOException {
      ByteBuffer b = ByteBuffer.allocate(n).order(ByteOrder.LITTLE_ENDIAN);
      fill(b);
      b.flip();
      pos += b.remaining();
      return b;
    }

    @Override
    ArrowBuf body(long n, BufferAllocator allocator) throws IOException {
      ArrowBuf buf = allocator.buffer(n);
      boolean ok = false;
      try {
        for (long done = 0; done < n; ) {
          int m = (int) Math.min(CHUNK, n - done);
          ByteBuffer target = buf.nioBuffer(done, m);
          fill(target);
          pos += target.position();
          if (target.hasRemaining()) {
            return null;
          }
          done += m;
        }
        ok = true;
        return buf;
      } finally {
        if (!ok) {
          buf.getReferenceManager().release();
        }
      }
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
