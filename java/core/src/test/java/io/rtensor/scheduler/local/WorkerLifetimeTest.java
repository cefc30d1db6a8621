package io.rtensor.scheduler.local;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.rtensor.scheduler.Job;
import io.rtensor.scheduler.SchedulingSpec;
import io.rtensor.testing.OrphaningController;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Workers end with their controller, and a scheduler leaves no log folder behind unless asked. */
class WorkerLifetimeTest {

  @Test
  void aWorkerWhoseEngineNeverFinishesDestroyingEndsSoonAfterItsControllerIsKilled(
      @TempDir Path logs) throws Exception {
    String root = System.getProperty("rtensor.root", ".");
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.add("@" + Path.of(root, "etc", "jvm.args"));
    cmd.add("-cp");
    cmd.add(System.getProperty("java.class.path"));
    cmd.add(OrphaningController.class.getName());
    cmd.add(logs.toString());
    Process controller =
        new ProcessBuilder(cmd).redirectError(logs.resolve("controller.err").toFile()).start();
    long workerPid = -1;
    try (BufferedReader out =
        new BufferedReader(
            new InputStreamReader(controller.getInputStream(), StandardCharsets.UTF_8))) {
      String line;
      while ((line = out.readLine()) != null) {
        if (line.startsWith("worker-pid ")) {
          workerPid = Long.parseLong(line.substring("worker-pid ".length()).strip());
          break;
        }
      }
      if (workerPid < 0) {
        controller.destroyForcibly();
        fail(
            "the controller did not start its worker: "
                + Files.readString(logs.resolve("controller.err")));
      }
      ProcessHandle worker = ProcessHandle.of(workerPid).orElseThrow();
      controller.destroyForcibly(); // SIGKILL: no shutdown hook runs
      controller.waitFor(30, TimeUnit.SECONDS);
      // The worker sees its input close, gives destroy its 10 s grace, then halts.
      try {
        worker.onExit().get(40, TimeUnit.SECONDS);
      } catch (java.util.concurrent.TimeoutException e) {
        worker.destroyForcibly();
        fail("worker " + workerPid + " outlived its killed controller by 40 s");
      }
      assertFalse(worker.isAlive());
    } finally {
      controller.destroyForcibly();
    }
  }

  @Test
  void closingRemovesTheLogFolderItCreatedUnlessToldToKeepIt() throws Exception {
    Path removed;
    try (LocalScheduler scheduler = LocalScheduler.builder().build()) {
      scheduler.createWorkers(Job.builder("logged").task(SchedulingSpec.builder().build()).build());
      removed = scheduler.logDir();
      assertTrue(removed.startsWith(LocalScheduler.defaultLogRoot()), removed.toString());
      assertTrue(Files.exists(removed.resolve("logged-0.log")));
    }
    assertFalse(Files.exists(removed), removed + " was removed on close");

    Path kept;
    try (LocalScheduler scheduler = LocalScheduler.builder().keepLogs(true).build()) {
      scheduler.createWorkers(Job.builder("kept").task(SchedulingSpec.builder().build()).build());
      kept = scheduler.logDir();
    }
    try {
      assertTrue(Files.exists(kept.resolve("kept-0.log")), kept + " was kept");
    } finally {
      try (var paths = Files.walk(kept)) {
        for (Path p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
          Files.deleteIfExists(p);
        }
      }
    }
  }
}
