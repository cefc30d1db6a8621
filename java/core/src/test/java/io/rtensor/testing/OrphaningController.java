package io.rtensor.testing;

import io.rtensor.scheduler.Job;
import io.rtensor.scheduler.SchedulingSpec;
import io.rtensor.scheduler.local.LocalScheduler;
import io.rtensor.testing.engines.StuckDestroyEngine;
import java.nio.file.Path;

/**
 * A controller process for tests of what happens to workers when it dies: starts one local worker
 * whose engine never finishes destroying, prints {@code worker-pid N}, then waits to be killed.
 */
public final class OrphaningController {
  private OrphaningController() {}

  public static void main(String[] args) throws Exception {
    LocalScheduler scheduler = LocalScheduler.builder().logDir(Path.of(args[0])).build();
    String id =
        scheduler
            .createWorkers(Job.builder("orphan").task(SchedulingSpec.builder().build()).build())
            .get(0)
            .id();
    scheduler.createEngine(id, StuckDestroyEngine.class.getName(), null);
    System.out.println("worker-pid " + scheduler.pid(id));
    System.out.flush();
    // Waits for the test's SIGKILL; the bound is only a backstop for a test that forgot it.
    Thread.sleep(300_000);
  }
}
