package io.rtensor.cli;

/**
 * The launcher's logging: SLF4J through slf4j-simple, set up by {@code simplelogger.properties}
 * (warnings and errors on stderr). {@code --verbose} lowers the level before the first logger is
 * made: INFO for everything, DEBUG for rtensor's own classes.
 */
final class CliLogging {
  private CliLogging() {}

  /** Lowers the levels for a {@code --verbose} run (effective if no logger was made yet). */
  static void verbose() {
    System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "info");
    System.setProperty("org.slf4j.simpleLogger.log.io.rtensor", "debug");
  }
}
