package io.rtensor.cli;

import io.rtensor.scheduler.local.LocalWorkerMain;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Unmatched;

/**
 * {@code ./rtensor worker}: the worker process the LocalScheduler launches, usable by hand. Its
 * arguments, {@code --help} included, go unparsed to {@link LocalWorkerMain}, which the local
 * scheduler runs directly.
 */
@Command(
    name = "worker",
    description = "Run a worker process (what the local scheduler launches).",
    synopsisHeading = "usage: ",
    customSynopsis = "./rtensor worker --id ROLE/INDEX ... (./rtensor worker --help)")
final class WorkerCommand implements Callable<Integer> {
  @ParentCommand private Main main;

  @Unmatched private List<String> args = new ArrayList<>();

  @Override
  public Integer call() {
    return LocalWorkerMain.run(args.toArray(String[]::new), main.out(), main.err());
  }
}
