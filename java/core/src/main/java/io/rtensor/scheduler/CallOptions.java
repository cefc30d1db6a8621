package io.rtensor.scheduler;

import java.time.Duration;
import java.util.Objects;
import java.util.OptionalInt;

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
 * <p>{@code device} places the call's tensor arguments: with {@link #withDevice(int) withDevice(n)}
 * every tensor the arguments carry (tensor handles, tensors, and those nested in lists, maps and
 * arrays) reaches the engine as a {@code DeviceTensor} on the worker's device {@code n}, copied
 * host-to-device from the worker's fetch cache; {@code n} counts the worker's own devices, so
 * device {@code n} is the node's device {@code EngineContext.deviceIds().get(n)}. The copies are
 * borrowed for the call and released after it. A call that cannot be placed so (the method declares
 * a host {@code Tensor} parameter, an argument is a batch, the worker holds no device {@code n})
 * fails with {@link DeviceArgumentException} before the engine runs. Without it (the default),
 * tensors arrive on the host, except those passed to a parameter declared {@code DeviceTensor},
 * which arrive on the worker's device 0.
 *
 * @param timeout how long one attempt may take (default 2 hours: a training step)
 * @param maxRetries retries after the first attempt (0 = one attempt)
 * @param initialBackoff the first sleep between attempts
 * @param backoffMultiplier growth of the sleep per attempt (>= 1)
 * @param maxBackoff the longest sleep
 * @param idempotent whether running the call twice is harmless, so a timed-out attempt may be
 *     resubmitted
 * @param device the worker's device every tensor argument is received on, or empty for the default
 *     placement (see above)
 */
public record CallOptions(
    Duration timeout,
    int maxRetries,
    Duration initialBackoff,
    double backoffMultiplier,
    Duration maxBackoff,
    boolean idempotent,
    OptionalInt device) {

  /**
   * 2 hours, 3 retries of undelivered calls, backoff 1 s doubling up to 30 s, not idempotent,
   * tensor arguments placed by their parameters' types.
   */
  public static final CallOptions DEFAULT =
      new CallOptions(
          Duration.ofHours(2),
          3,
          Duration.ofSeconds(1),
          2.0,
          Duration.ofSeconds(30),
          false,
          OptionalInt.empty());

  public CallOptions {
    Objects.requireNonNull(timeout, "timeout");
    Objects.requireNonNull(initialBackoff, "initialBackoff");
    Objects.requireNonNull(maxBackoff, "maxBackoff");
    Objects.requireNonNull(device, "device");
    if (timeout.isNegative() || timeout.isZero()) {
      throw new IllegalArgumentException("timeout must be > 0, got " + timeout);
    }
    if (maxRetries < 0) {
      throw new IllegalArgumentException("maxRetries must be >= 0, got " + maxRetries);
    }
    if (initialBackoff.isNegative() || maxBackoff.isNegative() || !(backoffMultiplier >= 1)) {
      throw new IllegalArgumentException("backoff must be >= 0 and its multiplier >= 1");
    }
    if (device.isPresent() && device.getAsInt() < 0) {
      throw new IllegalArgumentException("device must be >= 0, got " + device.getAsInt());
    }
  }

  /** These options with another timeout. */
  public CallOptions withTimeout(Duration timeout) {
    return new CallOptions(
        timeout, maxRetries, initialBackoff, backoffMultiplier, maxBackoff, idempotent, device);
  }

  /** These options with another retry count. */
  public CallOptions withMaxRetries(int maxRetries) {
    return new CallOptions(
        timeout, maxRetries, initialBackoff, backoffMultiplier, maxBackoff, idempotent, device);
  }

  /** These options with another first backoff. */
  public CallOptions withInitialBackoff(Duration initialBackoff) {
    return new CallOptions(
        timeout, maxRetries, initialBackoff, backoffMultiplier, maxBackoff, idempotent, device);
  }

  /** These options marked idempotent or not: whether a timed-out attempt may be resubmitted. */
  public CallOptions withIdempotent(boolean idempotent) {
    return new CallOptions(
        timeout, maxRetries, initialBackoff, backoffMultiplier, maxBackoff, idempotent, device);
  }

  /**
   * These options with every tensor argument received on the worker's device {@code ordinal} (0:
   * the device its engines compute on); see the class comment.
   */
  public CallOptions withDevice(int ordinal) {
    return withDevice(OptionalInt.of(ordinal));
  }

  /** These options with the default placement of tensor arguments (no {@link #withDevice}). */
  public CallOptions withoutDevice() {
    return withDevice(OptionalInt.empty());
  }

  private CallOptions withDevice(OptionalInt device) {
    return new CallOptions(
        timeout, maxRetries, initialBackoff, backoffMultiplier, maxBackoff, idempotent, device);
  }

  /** The sleep before retry number {@code retry} (1-based). */
  public Duration backoffBefore(int retry) {
    double millis = initialBackoff.toMillis() * Math.pow(backoffMultiplier, retry - 1);
    return Duration.ofMillis((long) Math.min(millis, maxBackoff.toMillis()));
  }
}
