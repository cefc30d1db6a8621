package io.rtensor.bench;

import java.util.Arrays;

/**
 * Times a subject and its baseline in the same run: warm-up calls of both, then {@code reps} calls
 * of each, interleaved (the order alternating), and the median of each.
 */
public final class Timing {
  private Timing() {}

  /** One operation; its result is kept from the optimizer. */
  @FunctionalInterface
  public interface Op {
    long run() throws Exception;
  }

  /** The medians in milliseconds: {@code [subject, baseline]}. */
  public static double[] compare(int warmup, int reps, Op subject, Op baseline) throws Exception {
    return compare(warmup, 0, reps, subject, baseline);
  }

  /**
   * As {@link #compare(int, int, Op, Op)}, the warm-up going on past {@code warmup} pairs of calls
   * until it has taken at least {@code minWarmupMs} milliseconds (for subjects whose JIT needs many
   * calls to settle).
   */
  public static double[] compare(int warmup, long minWarmupMs, int reps, Op subject, Op baseline)
      throws Exception {
    if (reps < 1) {
      throw new IllegalArgumentException("reps must be at least 1");
    }
    long sink = 0;
    long start = System.nanoTime();
    for (int i = 0; i < warmup || System.nanoTime() - start < minWarmupMs * 1_000_000L; i++) {
      sink += subject.run();
      sink += baseline.run();
    }
    long[] s = new long[reps];
    long[] b = new long[reps];
    for (int i = 0; i < reps; i++) {
      if (i % 2 == 0) {
        s[i] = time(subject);
        b[i] = time(baseline);
      } else {
        b[i] = time(baseline);
        s[i] = time(subject);
      }
    }
    if (sink == 42) {
      System.out.print(""); // keeps the warm-up results alive
    }
    return new double[] {median(s) / 1e6, median(b) / 1e6};
  }

  private static long time(Op op) throws Exception {
    long t0 = System.nanoTime();
    long r = op.run();
    long t = System.nanoTime() - t0;
    return r == Long.MIN_VALUE ? t + 1 : t;
  }

  /** The median of the values. */
  public static double median(long[] values) {
    long[] sorted = values.clone();
    Arrays.sort(sorted);
    int n = sorted.length;
    return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0;
  }
}
