package io.rtensor.cli;

import java.util.Map;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/** The value types the commands' options share; a bad value is a usage error (exit 2). */
final class Converters {
  private Converters() {}

  /** A whole number {@code >= 1}. */
  static final class PositiveInt implements ITypeConverter<Integer> {
    @Override
    public Integer convert(String value) {
      return (int) wholeNumber(value, 1, Integer.MAX_VALUE);
    }
  }

  /** A whole number {@code >= 0}. */
  static final class NonNegativeInt implements ITypeConverter<Integer> {
    @Override
    public Integer convert(String value) {
      return (int) wholeNumber(value, 0, Integer.MAX_VALUE);
    }
  }

  /** A whole number in {@code [1, 2^20]}: a size in MiB, a count of repetitions. */
  static final class PositiveMebiCount implements ITypeConverter<Long> {
    @Override
    public Long convert(String value) {
      return wholeNumber(value, 1, 1L << 20);
    }
  }

  /** {@code value} as a whole number in {@code [min, max]}. */
  static long wholeNumber(String value, long min, long max) {
    try {
      long n = Long.parseLong(value.strip());
      if (n >= min && n <= max) {
        return n;
      }
    } catch (NumberFormatException e) {
      // below
    }
    throw new TypeConversionException(
        "needs a whole number "
            + (max == Integer.MAX_VALUE ? ">= " + min : "in [" + min + ", " + max + "]")
            + ", got '"
            + value
            + "'");
  }

  /** The value {@code choices} maps {@code value} to. */
  static <T> T oneOf(String value, Map<String, T> choices) {
    T chosen = choices.get(value);
    if (chosen == null) {
      throw new TypeConversionException(
          "choose one of " + String.join(", ", choices.keySet()) + "; got '" + value + "'");
    }
    return chosen;
  }
}
