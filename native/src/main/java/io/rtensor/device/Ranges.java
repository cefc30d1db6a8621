package io.rtensor.device;

/** Bounds checks done in Java before any native call. */
final class Ranges {
  private Ranges() {}

  /** Checks that [offset, offset + bytes) lies within a region of {@code size} bytes. */
  static void check(String role, long offset, long bytes, long size) {
    if (bytes < 0) {
      throw new IllegalArgumentException("byte count must be >= 0, got " + bytes);
    }
    if (offset < 0) {
      throw new IllegalArgumentException(role + " offset must be >= 0, got " + offset);
    }
    if (offset > size || bytes > size - offset) {
      throw new IndexOutOfBoundsException(
          role + " range [" + offset + ", " + offset + " + " + bytes + ") is past its end " + size);
    }
  }
}
