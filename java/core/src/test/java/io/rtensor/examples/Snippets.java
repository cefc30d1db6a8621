package io.rtensor.examples;

import java.util.List;

/**
 * Code shown in the README and run by a test: a region of a test's source between {@code // --8<--
 * [start:NAME]} and {@code // --8<-- [end:NAME]}, and the README's fenced code block after a line
 * {@code <!-- MARKER -->}, both without their common indentation, so a test can compare them.
 */
final class Snippets {
  private Snippets() {}

  /** The lines between a source's start and end markers of {@code name}, dedented. */
  static String region(String source, String name) {
    List<String> lines = source.lines().toList();
    int start = indexOf(lines, "// --8<-- [start:" + name + "]", 0);
    int end = indexOf(lines, "// --8<-- [end:" + name + "]", start + 1);
    return dedent(lines.subList(start + 1, end));
  }

  /** The fenced code block that follows the line {@code <!-- marker -->} of a README, dedented. */
  static String readmeBlock(String readme, String marker) {
    List<String> lines = readme.lines().toList();
    int at = indexOf(lines, "<!-- " + marker + " -->", 0);
    if (at + 1 >= lines.size() || !lines.get(at + 1).strip().startsWith("```")) {
      throw new AssertionError("no code block right after '<!-- " + marker + " -->' in README.md");
    }
    int end = indexOf(lines, "```", at + 2);
    return dedent(lines.subList(at + 2, end));
  }

  private static int indexOf(List<String> lines, String line, int from) {
    for (int i = from; i < lines.size(); i++) {
      if (lines.get(i).strip().equals(line)) {
        return i;
      }
    }
    throw new AssertionError("no line '" + line + "'");
  }

  /** The lines without their common indentation, trailing spaces, or blank lines at either end. */
  private static String dedent(List<String> lines) {
    int first = 0;
    int last = lines.size();
    while (first < last && lines.get(first).isBlank()) {
      first++;
    }
    while (last > first && lines.get(last - 1).isBlank()) {
      last--;
    }
    List<String> body = lines.subList(first, last);
    int indent =
        body.stream()
            .filter(l -> !l.isBlank())
            .mapToInt(l -> l.length() - l.stripLeading().length())
            .min()
            .orElse(0);
    StringBuilder out = new StringBuilder();
    for (String l : body) {
      out.append(l.isBlank() ? "" : l.substring(indent).stripTrailing()).append('\n');
    }
    return out.toString();
  }
}
