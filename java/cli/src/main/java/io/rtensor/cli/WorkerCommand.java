package io.rtensor.cli;

import io.rtensor.scheduler.local.LocalWorkerMain;
import java.io.PrintStream;

/** {@code ./rtensor worker}: the worker process the LocalScheduler launches, usable by hand. */
final class WorkerCommand implements Main.Command {
  @Override
  public String summary() {
    return "run a worker process (what the local scheduler launches)";
  }

  @Override
  public int run(String[] args, PrintStream out, PrintStream err) {
    return LocalWorkerMain.run(args, out, err);
  }
}
