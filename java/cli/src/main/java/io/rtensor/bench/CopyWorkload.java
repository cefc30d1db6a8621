package io.rtensor.bench;

/**
 * A single-copy row's workload ({@link D2hWorkload}, {@link H2dWorkload}): rtensor's pipelined copy
 * of {@link #bytes} beside a raw driver copy of the same bytes, on buffers the workload owns.
 */
public interface CopyWorkload extends AutoCloseable {
  /** Bytes each copy moves. */
  long bytes();

  /** rtensor's copy through its {@code ChunkedCopier}, between device and pinned Arrow memory. */
  long pinnedArrowChunked();

  /** The baseline: direct driver calls on memory the driver allocated. */
  long baselineRawPinned();

  /**
   * Checks the bytes the last copies left.
   *
   * @throws IllegalStateException if they are wrong
   */
  void verify();

  @Override
  void close();
}
