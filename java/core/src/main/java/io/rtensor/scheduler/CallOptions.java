package io.rtensor.scheduler;

import java.time.Duration;
import java.util.Objects;

/**
 * How {@link Scheduler#callEngine} waits and retries.
 *
 * <p>Timeouts and transient transport errors are retried up to {@code maxRetries} times, sleeping
 * {@code initialBackoff}, then multiplied by {@code backoffMultiplier} up to {@code maxBackoff}. An
 * exception thrown by the engine itself is never retried.
 *
 * @param timeout how long one attempt may take
 * @param maxRetries retries after the first attempt (0 = one attempt)
 * @param initialBackoff the first sleep between attempts
 * @param backoffMultiplier growth of the sleep per attempt (>= 1)
 * @param maxBackoff the longest sleep
 */
public record CallOptions(
    Duration timeout,
    int maxRetries,
    Duration initialBackoff,
    double backoffMultiplier,
    Duration maxBackoff) {

  /** 5 minutes, 3 retries, backoff 1 s doubling up to 30 s. */
  public static final CallOptions DEFAULT =
      new CallOptions(Duration.ofMinutes(5), 3, Duration.ofSeconds(1), 2.0, Duration.ofSeconds(30));

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
    return new CallOptions(timeout, maxRetries, initialBackoff, backoffMultiplier, maxBackoff);
  }

  /** These options with another retry count. */
  public CallOptions withMaxRetries(int maxRetries) {
    return new CallOptions(timeout, maxRetries, initialBackoff, backoffMultiplier, maxBackoff);
  }

  /** These options with another first backoff. */
  public CallOptions withInitialBackoff(Duration initialBackoff) {
    return new CallOptions(timeout, maxRetries, initialBackoff, backoffMultiplier, maxBackoff);
  }

  /** The sleep before retry number {@code retry} (1-based). */
  public Duration backoffBefore(int retry) {
    double millis = initialBackoff.toMillis() * Math.pow(backoffMultiplier, retry - 1);
    return Duration.ofMillis((long) Math.min(millis, maxBackoff.toMillis()));
  }
}
