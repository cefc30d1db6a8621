package io.rtensor.device;

import org.bytedeco.javacpp.BytePointer;

/** Pageable native host memory for tests, with pattern helpers. */
final class HostBytes implements AutoCloseable {
  private final BytePointer pointer;
  private final long size;

  HostBytes(long size) {
    this.size = size;
    this.pointer = new BytePointer(Math.max(1, size));
  }

  static byte pattern(long i, int seed) {
    return (byte) ((i * 131 + seed * 7 + (i >>> 9)) & 0xff);
  }

  HostBytes fillPattern(int seed) {
    java.nio.ByteBuffer view = view();
    for (int i = 0; i < size; i++) {
      view.put(i, pattern(i, seed));
    }
    return this;
  }

  private java.nio.ByteBuffer view() {
    return pointer.position(0).limit(size).capacity(size).asByteBuffer();
  }

  HostBytes fill(int value) {
    pointer.fill(value);
    return this;
  }

  byte get(long i) {
    return pointer.get(i);
  }

  long address() {
    return pointer.address();
  }

  long size() {
    return size;
  }

  HostMemory memory() {
    return HostMemory.pageable(pointer.address(), size);
  }

  /** Index of the first byte that differs from the pattern in [from, from + n), or -1. */
  long firstMismatch(long from, long n, long patternOffset, int seed) {
    java.nio.ByteBuffer view = view();
    for (long i = 0; i < n; i++) {
      if (view.get((int) (from + i)) != pattern(patternOffset + i, seed)) {
        return from + i;
      }
    }
    return -1;
  }

  @Override
  public void close() {
    pointer.close();
  }
}
