package io.rtensor.cli;

import picocli.CommandLine.Option;

/** {@code -h} and {@code --help}, on the launcher and on each command. */
final class HelpOption {
  @Option(
      names = {"-h", "--help"},
      usageHelp = true,
      description = "print this help and exit")
  boolean help;
}
