package io.rtensor.scheduler;

import java.time.Duration;
import java.util.Objects;

/**
 * How {@link Scheduler#callEngine} waits and retries.
 *
 * <p>A call is resubmitted only when a failure proves the worker never received it (for example a
 * connection refused before the request was sent), up to {@code maxRetries} times, sleeping {@code
 * initialBackoff}, then multiplied by {@code backoffMultiplier} up to {@code maxBackoff}. A call
 * that may have reached the worker (it timed out, or the connection broke after sending) is
 * resubmitted only when marked {@code idempotent}: otherwise a slow training step would run twice.
 * An exception thrown by the engine itself is never retried.
 *
 * @param timeout how long one attempt may take (default 2 hours: a training step)
 * @param maxRetries retries after the first attempt (0 = one attempt)
 * @param initialBackoff the first sleep between attempts
 * @param backoffMultiplier growth of the sleep per attempt (>= 1)
 * @param maxBackoff the longest sleep
 * @param idempotent whether running the call twice is harmless, so a timed-out attempt may be
 *     resubmitted
 */
public record CallOptions(
    Duration timeout,
    int maxRetries,
    Duration initialBackoff,
    double backoffMultiplier,
    Duration maxBackoff,
    boolean idempotent) {

  /** 2 hours, 3 retries of undelivered calls, backoff 1 s doubling up to 30 s, not idempotent. */
  public static final CallOptions DEFAULT =
      new CallOptions(
          Duration.ofHours(2), 3, Duration.ofSeconds(1), 2.0, Duration.ofSeconds(30), false);

  public CallOptions {
    Objects.requireNonNull(timeout, "timeout");
    Objects.requireNonNull(initialBackoff, "initialBackoff");
    Objects.requireNonNull(maxBackoff, "maxBackoff");
    if (timeout.isNegative() || timeout.isZero()) {
      throw new IllegalArgumentException("timeout must be > 0, got " + timeout);
    }
    if (maxRetries < 0) {
      throw new IllegalArgumentException("maxRetries must be >= 0, got " + maxRetries);
    }
    if (initialBackoff.isNegative() || maxBackoff.isNegative() || !(backoffMultiplier >= 1)) {
      throw new IllegalArgumentException("backoff must be >= 0 and its multiplier >= 1");
    }
  }

  /** These options with another timeout. */
  public CallOptions withTimeout(Duration timeout) {
    return new CallOptions(
        timeout, maxRetries, initialBackoff, backoffMultiplier, maxBackoff, idempotent);
  }

  /** These options with another retry count. */
  public CallOptions withMaxRetries(int maxRetries) {
    return new CallOptions(
        timeout, maxRetries, initialBackoff, backoffMultiplier, maxBackoff, idempotent);
  }

  /** These options with another first backoff. */
  public CallOptions withInitialBackoff(Duration initialBackoff) {
    return new CallOptions(
        timeout, maxRetries, initialBackoff, backoffMultiplier, maxBackoff, idempotent);
  }

  /** These options marked idempotent or not: whether a timed-out attempt may be resubmitted. */
  public CallOptions withIdempotent(boolean idempotent) {
    return new CallOptions(
        timeout, maxRetries, initialBackoff, backoffMultiplier, maxBackoff, idempotent);
  }

  /** The sleep before retry number {@code retry} (1-based). */
  public Duration backoffBefore(int retry) {
    double millis = initialBackoff.toMillis() * Math.pow(backoffMultiplier, retry - 1);
    return Duration.ofMillis((long) Math.min(millis, maxBackoff.toMillis()));
  }
}
