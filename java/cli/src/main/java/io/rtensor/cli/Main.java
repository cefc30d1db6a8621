package io.rtensor.cli;

import java.io.PrintStream;
import java.util.Arrays;
import java.util.Map;
import java.util.TreeMap;

/** Entry point of the {@code ./rtensor} launcher: dispatches to a subcommand. */
public final class Main {
  /** A subcommand of the launcher. */
  interface Command {
    /** One line for the usage text. */
    String summary();

    /** Runs with the arguments after the subcommand name; returns the exit code. */
    int run(String[] args, PrintStream out, PrintStream err) throws Exception;
  }

  private static Map<String, Command> commands() {
    Map<String, Command> commands = new TreeMap<>();
    commands.put("demo", new DemoCommand());
    commands.put("doctor", new DoctorCommand());
    commands.put("worker", new WorkerCommand());
    commands.put("inspect", new InspectCommand(System.in));
    commands.put("convert", new ConvertCommand());
    commands.put("bench", new BenchCommand());
    return commands;
  }

  private Main() {}

  public static void main(String[] args) {
    System.exit(run(args, System.out, System.err));
  }

  /** Runs a command line; returns the exit code (2 for usage errors). */
  static int run(String[] args, PrintStream out, PrintStream err) {
    Map<String, Command> commands = commands();
    if (args.length == 0) {
      usage(err, commands);
      return 2;
    }
    if (args[0].equals("-h") || args[0].equals("--help") || args[0].equals("help")) {
      usage(out, commands);
      return 0;
    }
    Command command = commands.get(args[0]);
    if (command == null) {
      err.println("rtensor: unknown command '" + args[0] + "'");
      usage(err, commands);
      return 2;
    }
    try {
      return command.run(Arrays.copyOfRange(args, 1, args.length), out, err);
    } catch (UsageException e) {
      err.println("rtensor " + args[0] + ": " + e.getMessage());
      return 2;
    } catch (Exception e) {
      err.println("rtensor " + args[0] + ": failed: " + e);
      e.printStackTrace(err);
      return 1;
    }
  }

  private static void usage(PrintStream out, Map<String, Command> commands) {
    out.println(
        "usage: ./rtensor <command> [options]   (./rtensor <command> --help for its options)");
    out.println();
    commands.forEach((name, c) -> out.printf("  %-10s %s%n", name, c.summary()));
  }

  /** A bad command line: the launcher prints the message and exits 2. */
  static final class UsageException extends Exception {
    private static final long serialVersionUID = 1L;

    UsageException(String message) {
      super(message);
    }
  }
}
