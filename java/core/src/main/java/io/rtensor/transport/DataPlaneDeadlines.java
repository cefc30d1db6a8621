package io.rtensor.transport;

import java.time.Duration;
import java.util.Map;
import java.util.Objects;

/**
 * How long a data plane waits on a peer. Every transfer has two bounds:
 *
 * <ul>
 *   <li>a <b>stall</b> deadline, measured as progress: a fetch that receives no bytes for {@link
 *       #stall()} fails with {@link FetchStalledException} (a peer that is alive but does not
 *       answer: stopped, swapping, wedged);
 *   <li>an <b>overall</b> deadline proportional to the size: {@link #overallFor(long)} is {@link
 *       #base()} plus the bytes at {@link #minBytesPerSecond()}; past it the transfer fails with
 *       {@link FetchTimeoutException} however much progress it made.
 * </ul>
 *
 * Small requests that carry no shard bytes (clear, stats) wait at most {@link #action()}. On
 * failure the call is cancelled, so the waiting thread and the connection's stream are released.
 *
 * <p>Defaults ({@link #DEFAULT}): stall 30 s, overall 120 s + 8 MiB/s (1 GiB: 248 s), actions 60 s.
 * {@link #fromEnvironment()} lets a process override them without code, which is how a worker that
 * a scheduler launches is configured (a job's environment): {@value #STALL_ENV}, {@value #BASE_ENV}
 * and {@value #ACTION_ENV} in milliseconds, {@value #RATE_ENV} in bytes per second.
 *
 * @param stall longest time without progress (bytes received, or a message accepted)
 * @param base the overall deadline of a transfer of no bytes
 * @param minBytesPerSecond the slowest rate the overall deadline allows for the bytes
 * @param action the deadline of a request without shard bytes (clear, stats)
 */
public record DataPlaneDeadlines(
    Duration stall, Duration base, long minBytesPerSecond, Duration action) {
  public static final String STALL_ENV = "RTENSOR_FETCH_STALL_MS";
  public static final String BASE_ENV = "RTENSOR_FETCH_TIMEOUT_MS";
  public static final String RATE_ENV = "RTENSOR_FETCH_MIN_BYTES_PER_S";
  public static final String ACTION_ENV = "RTENSOR_DATA_ACTION_TIMEOUT_MS";

  /** Stall 30 s; overall 120 s + size at 8 MiB/s; actions 60 s. */
  public static final DataPlaneDeadlines DEFAULT =
      new DataPlaneDeadlines(
          Duration.ofSeconds(30), Duration.ofSeconds(120), 8L << 20, Duration.ofSeconds(60));

  public DataPlaneDeadlines {
    Objects.requireNonNull(stall, "stall");
    Objects.requireNonNull(base, "base");
    Objects.requireNonNull(action, "action");
    if (stall.isNegative() || stall.isZero()) {
      throw new IllegalArgumentException("the stall deadline must be positive, got " + stall);
    }
    if (base.isNegative() || base.isZero()) {
      throw new IllegalArgumentException("the overall deadline must be positive, got " + base);
    }
    if (action.isNegative() || action.isZero()) {
      throw new IllegalArgumentException("the action deadline must be positive, got " + action);
    }
    if (minBytesPerSecond < 1) {
      throw new IllegalArgumentException(
          "minBytesPerSecond must be >= 1, got " + minBytesPerSecond);
    }
  }

  /** The overall deadline of a transfer of {@code bytes} bytes (never below {@link #base()}). */
  public Duration overallFor(long bytes) {
    long seconds = Math.max(0, bytes) / minBytesPerSecond;
    long extraMillis = Math.max(0, bytes) % minBytesPerSecond * 1000 / minBytesPerSecond;
    long cap = Long.MAX_VALUE / 2_000_000; // far beyond any run; keeps nanos from overflowing
    long millis = Math.min(cap, base.toMillis() + Math.min(cap, seconds * 1000 + extraMillis));
    return Duration.ofMillis(millis);
  }

  /** This with another stall deadline. */
  public DataPlaneDeadlines withStall(Duration stall) {
    return new DataPlaneDeadlines(stall, base, minBytesPerSecond, action);
  }

  /** This with another overall deadline: {@code base} plus the bytes at {@code bytesPerSecond}. */
  public DataPlaneDeadlines withOverall(Duration base, long bytesPerSecond) {
    return new DataPlaneDeadlines(stall, base, bytesPerSecond, action);
  }

  /** This with another deadline for requests without shard bytes. */
  public DataPlaneDeadlines withAction(Duration action) {
    return new DataPlaneDeadlines(stall, base, minBytesPerSecond, action);
  }

  /** {@link #DEFAULT} with what this process's environment sets (see the class comment). */
  public static DataPlaneDeadlines fromEnvironment() {
    return from(System.getenv());
  }

  /**
   * {@link #DEFAULT} with the variables of {@code env} that are set.
   *
   * @throws IllegalArgumentException naming a variable that is not a positive whole number
   */
  public static DataPlaneDeadlines from(Map<String, String> env) {
    DataPlaneDeadlines d = DEFAULT;
    return new DataPlaneDeadlines(
        Duration.ofMillis(positive(env, STALL_ENV, d.stall.toMillis())),
        Duration.ofMillis(positive(env, BASE_ENV, d.base.toMillis())),
        positive(env, RATE_ENV, d.minBytesPerSecond),
        Duration.ofMillis(positive(env, ACTION_ENV, d.action.toMillis())));
  }

  private static long positive(Map<String, String> env, String name, long fallback) {
    String text = env.get(name);
    if (text == null || text.isBlank()) {
      return fallback;
    }
    try {
      long value = Long.parseLong(text.strip());
      if (value > 0) {
        return value;
      }
    } catch (NumberFormatException e) {
      // reported below
    }
    throw new IllegalArgumentException(
        name + " must be a positive whole number, got '" + text + "'");
  }
}
