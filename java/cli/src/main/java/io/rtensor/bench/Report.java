package io.rtensor.bench;

import java.math.BigDecimal;
import java.math.MathContext;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Renders comparisons: an aligned text table, a markdown table, or JSON (with the machine and the
 * settings of the run).
 */
public final class Report {
  private static final List<String> HEADER =
      List.of("subject", "time", "baseline", "time", "ratio", "goal");

  private Report() {}

  private static List<String> cells(Comparison c) {
    return List.of(
        c.subject(),
        Comparison.time(c.subjectMs(), c.subjectError()),
        c.baseline(),
        Comparison.time(c.baselineMs(), c.baselineError()),
        c.ran() ? c.ratioText() : "skipped",
        c.measured()
            ? c.goalText()
            : c.checked()
                ? c.goalText() + " (not judged: " + c.check() + ")"
                : c.goalText() + " (skipped: " + c.skipped() + ")");
  }

  /**
   * An aligned plain-text table, one comparison a row, with a note on the ratio (and on rows
   * checked on a fake runtime, when there are any).
   */
  public static String table(List<Comparison> comparisons) {
    List<List<String>> rows = new ArrayList<>();
    rows.add(HEADER);
    comparisons.forEach(c -> rows.add(cells(c)));
    int[] width = new int[HEADER.size()];
    for (List<String> row : rows) {
      for (int i = 0; i < row.size() - 1; i++) { // the last column is not padded
        width[i] = Math.max(width[i], row.get(i).length());
      }
    }
    StringBuilder s = new StringBuilder();
    for (int r = 0; r < rows.size(); r++) {
      List<String> row = rows.get(r);
      StringBuilder line = new StringBuilder();
      for (int i = 0; i < row.size(); i++) {
        String cell = row.get(i);
        boolean right = i == 1 || i == 3; // times
        line.append(i == 0 ? "" : "  ");
        if (i == row.size() - 1) {
          line.append(cell);
        } else {
          line.append(pad(cell, width[i], right));
        }
      }
      s.append(line.toString().stripTrailing()).append('\n');
      if (r == 0) {
        int total = 0;
        for (int w : width) {
          total += w + 2;
        }
        s.append("-".repeat(total + 6)).append('\n');
      }
    }
    s.append("ratio = subject throughput / baseline throughput (baseline time / subject time)\n");
    if (comparisons.stream().anyMatch(Comparison::checked)) {
      s.append(CHECKED_NOTE).append('\n');
    }
    return s.toString();
  }

  /** The note under a report with rows checked on a fake runtime. */
  static final String CHECKED_NOTE =
      "checked = ran end to end on a fake device runtime with every byte verified: a correctness"
          + " check, not a speed (no times, no ratio, goal not judged)";

  private static String pad(String s, int width, boolean right) {
    String fill = " ".repeat(Math.max(0, width - s.length()));
    return right ? fill + s : s + fill;
  }

  /** A markdown table (and the machine above it when given). */
  public static String markdown(Map<String, String> machine, List<Comparison> comparisons) {
    StringBuilder s = new StringBuilder();
    if (machine != null) {
      s.append("Machine: ").append(Machine.oneLine(machine)).append("\n\n");
    }
    s.append("| ").append(String.join(" | ", HEADER)).append(" |\n");
    s.append("|").append(" --- |".repeat(HEADER.size())).append('\n');
    for (Comparison c : comparisons) {
      List<String> cells = new ArrayList<>();
      for (String cell : cells(c)) {
        cells.add(cell.replace("|", "\\|"));
      }
      s.append("| ").append(String.join(" | ", cells)).append(" |\n");
    }
    s.append(
        "\nratio = subject throughput / baseline throughput (baseline time / subject time).\n");
    if (comparisons.stream().anyMatch(Comparison::checked)) {
      s.append(CHECKED_NOTE).append(".\n");
    }
    return s.toString();
  }

  /** The run as one JSON object: {@code machine}, {@code settings}, {@code results}. */
  public static String json(
      Map<String, String> machine, Map<String, ?> settings, List<Comparison> comparisons) {
    StringBuilder s = new StringBuilder("{\n");
    s.append("  \"machine\": ").append(object(machine)).append(",\n");
    s.append("  \"settings\": ").append(object(settings)).append(",\n");
    s.append("  \"results\": [");
    for (int i = 0; i < comparisons.size(); i++) {
      Comparison c = comparisons.get(i);
      Map<String, Object> m = new java.util.LinkedHashMap<>();
      m.put("name", c.name());
      m.put("subject", c.subject());
      m.put("baseline", c.baseline());
      m.put("status", c.measured() ? "ran" : c.checked() ? "checked" : "skipped");
      if (c.checked()) {
        m.put("bytes", c.bytes());
        m.put("check", c.check());
      } else if (c.ran()) {
        m.put("bytes", c.bytes());
        m.put("subjectMs", c.subjectMs());
        m.put("baselineMs", c.baselineMs());
        if (!Double.isNaN(c.subjectError())) {
          m.put("subjectErrorMs", c.subjectError());
        }
        if (!Double.isNaN(c.baselineError())) {
          m.put("baselineErrorMs", c.baselineError());
        }
        m.put("ratio", c.ratio());
      } else {
        m.put("reason", c.skipped());
      }
      m.put("goal", c.goal());
      m.put("met", c.measured() && !Double.isNaN(c.goal()) ? (Object) c.met() : null);
      s.append(i == 0 ? "\n    " : ",\n    ").append(object(m));
    }
    s.append(comparisons.isEmpty() ? "]\n}\n" : "\n  ]\n}\n");
    return s.toString();
  }

  private static String object(Map<String, ?> map) {
    StringBuilder s = new StringBuilder("{");
    map.forEach(
        (k, v) ->
            s.append(s.length() == 1 ? "" : ", ").append(quote(k)).append(": ").append(value(v)));
    return s.append('}').toString();
  }

  private static String value(Object v) {
    if (v == null) {
      return "null";
    } else if (v instanceof Double d) {
      return number(d);
    } else if (v instanceof Number || v instanceof Boolean) {
      return v.toString();
    } else if (v instanceof Map<?, ?> m) {
      @SuppressWarnings("unchecked")
      Map<String, ?> map = (Map<String, ?>) m;
      return object(map);
    }
    return quote(v.toString());
  }

  /** A JSON number with six significant digits ({@code null} for NaN and infinities). */
  public static String number(double d) {
    if (Double.isNaN(d) || Double.isInfinite(d)) {
      return "null";
    }
    return new BigDecimal(d).round(new MathContext(6)).stripTrailingZeros().toPlainString();
  }

  /** A JSON string literal. */
  public static String quote(String s) {
    StringBuilder q = new StringBuilder("\"");
    for (char c : s.toCharArray()) {
      switch (c) {
        case '"' -> q.append("\\\"");
        case '\\' -> q.append("\\\\");
        case '\n' -> q.append("\\n");
        case '\r' -> q.append("\\r");
        case '\t' -> q.append("\\t");
        default -> {
          if (c < 0x20) {
            q.append(String.format(Locale.ROOT, "\\u%04x", (int) c));
          } else {
            q.append(c);
          }
        }
      }
    }
    return q.append('"').toString();
  }
}
