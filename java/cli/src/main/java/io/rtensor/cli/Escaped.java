package io.rtensor.cli;

/**
 * Text from a file, shown so that it cannot forge output: a column name, a header, an error that
 * quotes them. Control characters, line and paragraph separators and invisible format characters
 * (bidirectional overrides, zero-width marks) become escapes ({@code \n}, {@code \u001b}, {@code
 * \U000e0001}), and a backslash becomes {@code \\}, so every escape reads one way.
 */
final class Escaped {
  private Escaped() {}

  /** {@code text} with every character that could change how a line reads escaped. */
  static String text(String text) {
    StringBuilder b = null;
    for (int i = 0; i < text.length(); ) {
      int c = text.codePointAt(i);
      int next = i + Character.charCount(c);
      String escape = escape(c);
      if (escape != null && b == null) {
        b = new StringBuilder(text.length() + 16).append(text, 0, i);
      }
      if (b != null) {
        if (escape != null) {
          b.append(escape);
        } else {
          b.appendCodePoint(c);
        }
      }
      i = next;
    }
    return b == null ? text : b.toString();
  }

  /** The escape of {@code c}, or null where it prints as itself. */
  private static String escape(int c) {
    switch (c) {
      case '\\':
        return "\\\\";
      case '\n':
        return "\\n";
      case '\r':
        return "\\r";
      case '\t':
        return "\\t";
      default:
        break;
    }
    int type = Character.getType(c);
    boolean hidden =
        type == Character.CONTROL
            || type == Character.FORMAT
            || type == Character.LINE_SEPARATOR
            || type == Character.PARAGRAPH_SEPARATOR
            || type == Character.SURROGATE
            || type == Character.UNASSIGNED
            || type == Character.PRIVATE_USE;
    if (!hidden) {
      return null;
    }
    return c <= 0xffff ? String.format("\\u%04x", c) : String.format("\\U%08x", c);
  }
}
