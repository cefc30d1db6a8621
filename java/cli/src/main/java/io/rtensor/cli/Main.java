package io.rtensor.cli;

import java.io.InputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.HelpCommand;
import picocli.CommandLine.MissingParameterException;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;
import picocli.CommandLine.UnmatchedArgumentException;

/**
 * Entry point of the {@code ./rtensor} launcher: parses the command line with picocli and runs a
 * subcommand. Exit codes: 0 done, 1 failed, 2 a usage error (the message and the usage on stderr)
 * or bad input (one line on stderr naming the problem).
 */
@Command(
    name = "./rtensor",
    synopsisHeading = "usage: ",
    synopsisSubcommandLabel = "<command>",
    commandListHeading = "%ncommands:%n",
    footer = {"", "./rtensor <command> --help lists the options of a command."},
    subcommands = HelpCommand.class)
public final class Main implements Callable<Integer> {
  private final PrintStream out;
  private final PrintStream err;
  private final InputStream in;
  private final Map<String, Object> commands = new LinkedHashMap<>();

  @Spec private CommandSpec spec;
  @Mixin private HelpOption help;

  /** A launcher printing to {@code out} and {@code err}, reading {@code in} (inspect's '-'). */
  Main(PrintStream out, PrintStream err, InputStream in) {
    this.out = out;
    this.err = err;
    this.in = in;
    for (Object command :
        List.of(
            new DemoCommand(),
            new BenchCommand(),
            new DoctorCommand(),
            new InspectCommand(),
            new ConvertCommand(),
            new WorkerCommand())) {
      with(command);
    }
  }

  /** Replaces the subcommand of {@code command}'s name with {@code command} (tests use it). */
  Main with(Object command) {
    commands.put(command.getClass().getAnnotation(Command.class).name(), command);
    return this;
  }

  PrintStream out() {
    return out;
  }

  PrintStream err() {
    return err;
  }

  InputStream in() {
    return in;
  }

  public static void main(String[] args) {
    System.exit(run(args, System.out, System.err));
  }

  /** Runs a command line; returns the exit code. */
  static int run(String[] args, PrintStream out, PrintStream err) {
    return new Main(out, err, System.in).execute(args);
  }

  /** Runs a command line with this launcher's streams and commands; returns the exit code. */
  int execute(String... args) {
    return commandLine().execute(args);
  }

  /** The parser: this launcher and its subcommands, wired to its streams. */
  CommandLine commandLine() {
    CommandLine line = new CommandLine(this);
    commands.forEach(line::addSubcommand);
    line.setOut(new PrintWriter(out, true));
    line.setErr(new PrintWriter(err, true));
    line.setColorScheme(CommandLine.Help.defaultColorScheme(CommandLine.Help.Ansi.OFF));
    line.setOverwrittenOptionsAllowed(true); // the last of a repeated option counts
    line.setParameterExceptionHandler(Main::usageError);
    line.setExecutionExceptionHandler(
        (e, command, parsed) -> {
          PrintWriter w = command.getErr();
          if (e instanceof BadInputException bad) {
            w.println(prefix(command) + ": " + bad.getMessage());
            w.flush();
            return bad.exitCode();
          }
          w.println(prefix(command) + ": failed: " + e);
          e.printStackTrace(w);
          w.flush();
          return 1;
        });
    for (CommandLine sub : line.getSubcommands().values()) {
      sub.getCommandSpec().usageMessage().synopsisHeading("usage: ");
    }
    return line;
  }

  /** {@code ./rtensor} alone: the usage, on stderr. */
  @Override
  public Integer call() {
    spec.commandLine().usage(spec.commandLine().getErr());
    return CommandLine.ExitCode.USAGE;
  }

  /**
   * An unknown command or option, a missing or bad value: the message, then the usage (a command's
   * synopsis, or the launcher's list of commands).
   */
  private static int usageError(ParameterException e, String[] args) {
    CommandLine command = e.getCommandLine();
    PrintWriter w = command.getErr();
    w.println(prefix(command) + ": " + message(e, args));
    w.println();
    if (command.getParent() == null) {
      command.usage(w);
    } else {
      CommandLine.Help help = command.getHelp();
      w.print(help.synopsisHeading() + help.synopsis(help.synopsisHeadingLength()));
      w.println("(./rtensor " + command.getCommandName() + " --help describes the options)");
    }
    w.flush();
    return CommandLine.ExitCode.USAGE;
  }

  /** What was wrong, the first problem first: an unknown option before a missing parameter. */
  private static String message(ParameterException e, String[] args) {
    CommandLine command = e.getCommandLine();
    if (command.getParent() == null && e instanceof UnmatchedArgumentException unmatched) {
      List<String> words = unmatched.getUnmatched();
      if (!words.isEmpty() && !words.get(0).startsWith("-")) {
        return "unknown command '" + words.get(0) + "'";
      }
    }
    if (e instanceof MissingParameterException) {
      for (String arg : args) {
        String name = arg.contains("=") ? arg.substring(0, arg.indexOf('=')) : arg;
        if (name.startsWith("-")
            && !name.equals("-")
            && !name.equals("--")
            && command.getCommandSpec().findOption(name) == null) {
          return "Unknown option: '" + arg + "'";
        }
      }
    }
    String message = String.valueOf(e.getMessage());
    return message.startsWith("Error: ") ? message.substring("Error: ".length()) : message;
  }

  /** {@code rtensor} or {@code rtensor demo}: how a command's messages start. */
  private static String prefix(CommandLine command) {
    return command.getParent() == null ? "rtensor" : "rtensor " + command.getCommandName();
  }
}
