package io.rtensor.cli;

/**
 * Input a command cannot use (a missing or unreadable file, a file that is not what it should be):
 * the launcher prints {@code rtensor COMMAND: MESSAGE}, one line and no stack trace, and exits 2.
 */
final class BadInputException extends Exception {
  private static final long serialVersionUID = 1L;

  private final int exitCode;

  /** Bad input: exit 2. */
  BadInputException(String message) {
    this(message, 2);
  }

  /** A failure reported as one line with its own exit code (a file that cannot be written: 1). */
  BadInputException(String message, int exitCode) {
    super(message);
    this.exitCode = exitCode;
  }

  int exitCode() {
    return exitCode;
  }
}
