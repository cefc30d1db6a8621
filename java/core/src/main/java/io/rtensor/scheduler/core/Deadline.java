package io.rtensor.scheduler.core;

import java.time.Duration;

/** A point in time on the monotonic clock, for waits that share one overall bound. */
public record Deadline(long nanos) {

  /** {@code timeout} from now. */
  public static Deadline after(Duration timeout) {
    return new Deadline(System.nanoTime() + timeout.toNanos());
  }

  /** What is left, never negative. */
  public Duration remaining() {
    return Duration.ofNanos(Math.max(0, nanos - System.nanoTime()));
  }

  /** What is left in milliseconds, at least 1 (Ray and Flight treat 0 as "no wait" or invalid). */
  public long remainingMillis() {
    return Math.max(1, remaining().toMillis());
  }

  /** Whether it has passed. */
  public boolean passed() {
    return System.nanoTime() - nanos >= 0;
  }
}
