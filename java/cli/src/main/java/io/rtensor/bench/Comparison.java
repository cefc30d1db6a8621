package io.rtensor.bench;

import java.util.Locale;

/**
 * One comparison of a subject with its baseline, both measured in the same run; or both run as a
 * correctness check on a fake device runtime, which says nothing about speed; or the reason it was
 * skipped. Times are per operation, in milliseconds; an error of NaN means none was measured. The
 * ratio is the subject's throughput over the baseline's ({@code baselineMs / subjectMs}), so higher
 * is better and the goal is a lower bound.
 *
 * @param name a short key: {@code codec}, {@code flight}, {@code ray}, {@code d2h}, ...
 * @param bytes bytes one operation moves (0 when it does not apply)
 * @param goal the lowest ratio the project aims for (NaN: none)
 * @param skipped why the comparison did not run; null when it ran
 * @param check what a run on a fake device runtime checked (no times, no ratio, no verdict on the
 *     goal); null for a measurement or a skip
 */
public record Comparison(
    String name,
    String subject,
    double subjectMs,
    double subjectError,
    String baseline,
    double baselineMs,
    double baselineError,
    long bytes,
    double goal,
    String skipped,
    String check) {

  /** A comparison that ran, timed without an error estimate. */
  public static Comparison measured(
      String name,
      String subject,
      double subjectMs,
      String baseline,
      double baselineMs,
      long bytes,
      double goal) {
    return new Comparison(
        name,
        subject,
        subjectMs,
        Double.NaN,
        baseline,
        baselineMs,
        Double.NaN,
        bytes,
        goal,
        null,
        null);
  }

  /** A comparison that did not run, and why. */
  public static Comparison skipped(
      String name, String subject, String baseline, double goal, String reason) {
    return new Comparison(
        name,
        subject,
        Double.NaN,
        Double.NaN,
        baseline,
        Double.NaN,
        Double.NaN,
        0,
        goal,
        reason,
        null);
  }

  /**
   * A comparison whose subject and baseline both ran end to end, with their bytes checked, on a
   * fake device runtime: a correctness check, reported without times, ratio or verdict on the goal.
   *
   * @param check what ran and was checked, and on what
   */
  public static Comparison checked(
      String name, String subject, String baseline, long bytes, double goal, String check) {
    return new Comparison(
        name,
        subject,
        Double.NaN,
        Double.NaN,
        baseline,
        Double.NaN,
        Double.NaN,
        bytes,
        goal,
        null,
        java.util.Objects.requireNonNull(check, "check"));
  }

  /** Whether it ran (measured, or checked on a fake runtime). */
  public boolean ran() {
    return skipped == null;
  }

  /** Whether it ran as a correctness check on a fake runtime, not a measurement. */
  public boolean checked() {
    return skipped == null && check != null;
  }

  /** Whether it was measured: it ran on a real runtime (or needs none). */
  public boolean measured() {
    return skipped == null && check == null;
  }

  /** Subject throughput over baseline throughput; NaN unless measured. */
  public double ratio() {
    return measured() ? baselineMs / subjectMs : Double.NaN;
  }

  /** Whether the ratio reaches the goal; false unless measured, or without a goal. */
  public boolean met() {
    return measured() && !Double.isNaN(goal) && ratio() >= goal;
  }

  /** The goal and whether it was met, e.g. {@code >= 0.8 met}. */
  public String goalText() {
    if (Double.isNaN(goal)) {
      return "-";
    }
    String bound = String.format(Locale.ROOT, ">= %.2f", goal);
    return measured() ? bound + (met() ? " met" : " MISSED") : bound;
  }

  /** A time for a table: {@code 12.3 ms} or {@code 12.3 ± 0.4 ms}; a dash when skipped. */
  public static String time(double ms, double error) {
    if (Double.isNaN(ms)) {
      return "-";
    }
    String digits = ms >= 100 ? "%.0f" : ms >= 10 ? "%.1f" : ms >= 1 ? "%.2f" : "%.3f";
    String t = String.format(Locale.ROOT, digits, ms);
    if (!Double.isNaN(error)) {
      t += " ± " + String.format(Locale.ROOT, digits, error);
    }
    return t + " ms";
  }

  /** The ratio for a table: {@code 0.85x}, {@code checked}, or the skip reason. */
  public String ratioText() {
    if (checked()) {
      return "checked";
    }
    return ran() ? String.format(Locale.ROOT, "%.2fx", ratio()) : "skipped: " + skipped;
  }
}
