package io.rtensor.scheduler.local;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rtensor.host.ControlRequest;
import io.rtensor.runtime.SessionSecret;
import io.rtensor.scheduler.CallOptions;
import io.rtensor.scheduler.DeviceType;
import io.rtensor.scheduler.EngineCallException;
import io.rtensor.scheduler.Job;
import io.rtensor.scheduler.SchedulingSpec;
import io.rtensor.scheduler.Worker;
import io.rtensor.scheduler.WorkerCreationException;
import io.rtensor.scheduler.WorkerFailedException;
import io.rtensor.scheduler.WorkerTimeoutException;
import io.rtensor.scheduler.core.ControlFailure;
import io.rtensor.scheduler.local.internal.ControlClient;
import io.rtensor.scheduler.local.internal.ControlServer;
import io.rtensor.tensor.TensorBatch;
import io.rtensor.testing.engines.EchoEngine;
import io.rtensor.testing.engines.TensorEngine;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.arrow.flight.FlightRuntimeException;
import org.apache.arrow.flight.FlightStatusCode;
import org.apache.arrow.memory.RootAllocator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What only the local scheduler does: processes, devices, ports, logs and faults. */
class LocalSchedulerTest {

  private static Job cpuJob(String role, int replicas) {
    return Job.builder(role).replicas(replicas).task(SchedulingSpec.builder().build()).build();
  }

  @Test
  void killNineDuringACallFailsThatCallWithinItsTimeoutAndOthersKeepServing() throws Exception {
    try (LocalScheduler scheduler = LocalScheduler.builder().build()) {
      List<Worker> workers = scheduler.createWorkers(cpuJob("victim", 2));
      for (Worker w : workers) {
        scheduler.createEngine(w.id(), EchoEngine.class.getName(), null);
        scheduler.createEngine(w.id(), TensorEngine.class.getName(), "data");
      }
      Object kept = scheduler.callEngine("victim/1", "produce", "data", null, 8);
      CallOptions options =
          CallOptions.DEFAULT.withTimeout(Duration.ofSeconds(60)).withMaxRetries(2);
      long start = System.nanoTime();
      CompletableFuture<Object> call =
          scheduler.callEngineAsync("victim/0", "countedSleep", null, options, 30_000L);
      Thread.sleep(1_000);
      ProcessHandle.of(scheduler.pid("victim/0")).orElseThrow().destroyForcibly();
      ExecutionException e =
          assertThrows(ExecutionException.class, () -> call.get(60, TimeUnit.SECONDS));
      double seconds = (System.nanoTime() - start) / 1e9;
      WorkerFailedException failed = assertInstanceOf(WorkerFailedException.class, e.getCause());
      assertTrue(failed.getMessage().contains("exited with code"), failed.getMessage());
      assertTrue(seconds < 20, "failed fast, not at the 60 s timeout: " + seconds + " s");
      assertEquals(3, scheduler.callEngine("victim/1", "add", null, options, 1, 2));
      try (TensorBatch batch = (TensorBatch) scheduler.dataPlane().localize(kept)) {
        assertEquals(8, batch.rows(), "the surviving worker keeps its shards");
      }
      List<Worker> more = scheduler.createWorkers(cpuJob("after", 1));
      assertEquals("after/0", more.get(0).id(), "the controller still creates workers");
    }
  }

  @Test
  void workerThatExitsDuringStartupIsWorkerFailedErrorWithItsExitCodeAndLog(@TempDir Path logs)
      throws Exception {
    try (LocalScheduler scheduler =
        LocalScheduler.builder().classPath("/nonexistent/classes").logDir(logs).build()) {
      WorkerFailedException e =
          assertThrows(
              WorkerFailedException.class, () -> scheduler.createWorkers(cpuJob("broken", 1)));
      assertTrue(e.getMessage().contains("exited during start-up with code 1"), e.getMessage());
      assertTrue(e.getMessage().contains("LocalWorkerMain"), "quotes the log: " + e.getMessage());
      assertTrue(scheduler.roles().isEmpty());
    }
  }

  @Test
  void workerThatIsNotReadyInTimeIsKilledWithWorkerTimeoutError() throws Exception {
    List<ProcessHandle> before = ProcessHandle.current().children().toList();
    try (LocalScheduler scheduler =
        LocalScheduler.builder().startupTimeout(Duration.ofMillis(200)).build()) {
      WorkerTimeoutException e =
          assertThrows(
              WorkerTimeoutException.class, () -> scheduler.createWorkers(cpuJob("late", 1)));
      assertEquals("late/0", e.workerId());
    }
    List<ProcessHandle> after = new ArrayList<>(ProcessHandle.current().children().toList());
    after.removeAll(before);
    for (ProcessHandle p : after) {
      p.onExit().get(10, TimeUnit.SECONDS);
    }
    assertTrue(after.stream().noneMatch(ProcessHandle::isAlive), "no child left: " + after);
  }

  @Test
  void takenControlPortIsSkippedForTheNextOne() throws Exception {
    try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
        LocalScheduler scheduler =
            LocalScheduler.builder().basePort(taken.getLocalPort()).build()) {
      Worker w = scheduler.createWorkers(cpuJob("ported", 1)).get(0);
      int control = w.workerPorts().get(0);
      assertNotEquals(taken.getLocalPort(), control);
      assertTrue(control > taken.getLocalPort(), "stepped up from the taken port");
      String log = Files.readString(scheduler.logDir().resolve("ported-0.log"));
      assertTrue(log.contains("port " + taken.getLocalPort() + " taken"), log);
      scheduler.createEngine(w.id(), EchoEngine.class.getName(), null);
      assertEquals(3, scheduler.callEngine(w.id(), "add", null, null, 1, 2));
    }
  }

  @Test
  void devicesAreAssignedExclusivelyAndTooManyIsRefusedBeforeAnythingStarts(@TempDir Path logs) {
    try (LocalScheduler scheduler =
        LocalScheduler.builder().devices(DeviceType.GPU, 2).logDir(logs).build()) {
      WorkerCreationException tooMany =
          assertThrows(
              WorkerCreationException.class,
              () ->
                  scheduler.createWorkers(
                      Job.builder("big")
                          .replicas(3)
                          .task(SchedulingSpec.builder().gpu(1).build())
                          .build()));
      assertTrue(tooMany.getMessage().contains("needs 3 GPU(s) but 2 of 2"), tooMany.getMessage());
      assertFalse(Files.exists(logs.resolve("big-0.log")), "nothing was started");

      scheduler.createWorkers(
          Job.builder("train").replicas(2).task(SchedulingSpec.builder().gpu(1).build()).build());
      scheduler.createWorkers(cpuJob("cpu", 1));
      for (String id : List.of("train/0", "train/1", "cpu/0")) {
        scheduler.createEngine(id, EchoEngine.class.getName(), null);
      }
      assertEquals(
          "0", scheduler.callEngine("train/0", "getenv", null, null, "CUDA_VISIBLE_DEVICES"));
      assertEquals(
          "1", scheduler.callEngine("train/1", "getenv", null, null, "CUDA_VISIBLE_DEVICES"));
      assertEquals("", scheduler.callEngine("cpu/0", "getenv", null, null, "CUDA_VISIBLE_DEVICES"));
      assertThrows(
          WorkerCreationException.class,
          () ->
              scheduler.createWorkers(
                  Job.builder("more").task(SchedulingSpec.builder().gpu(1).build()).build()));
      scheduler.deleteWorkers("train", false);
      scheduler.createWorkers(
          Job.builder("again").replicas(2).task(SchedulingSpec.builder().gpu(1).build()).build());
      assertEquals(
          List.of(0, 1),
          List.of(scheduler.deviceIds("again/0").get(0), scheduler.deviceIds("again/1").get(0)));
    }
  }

  @Test
  void aCallOverTheControlLimitFailsBeforeItIsSentAndTheWorkerKeepsServing() {
    try (LocalScheduler scheduler = LocalScheduler.builder().build()) {
      String id = scheduler.createWorkers(cpuJob("big", 1)).get(0).id();
      scheduler.createEngine(id, EchoEngine.class.getName(), null);
      byte[] huge = new byte[ControlServer.MAX_REQUEST_BYTES + (1 << 20)];
      EngineCallException e =
          assertThrows(
              EngineCallException.class,
              () -> scheduler.callEngine(id, "echo", null, CallOptions.DEFAULT, (Object) huge));
      assertTrue(e.getMessage().contains("over the workers' limit of 64 MiB"), e.getMessage());
      assertEquals("ok", scheduler.callEngine(id, "echo", null, CallOptions.DEFAULT, "ok"));
    }
  }

  @Test
  void closeLeavesNoChildProcess() throws Exception {
    List<Long> pids = new ArrayList<>();
    LocalScheduler scheduler = LocalScheduler.builder().build();
    for (Worker w : scheduler.createWorkers(cpuJob("a", 2))) {
      pids.add(scheduler.pid(w.id()));
    }
    scheduler.createWorkers(
        Job.builder("b")
            .replicas(2)
            .strategy(io.rtensor.scheduler.SchedulingStrategy.colocation("a"))
            .build());
    for (Worker w : scheduler.forkWorkers("c", "a")) {
      pids.add(scheduler.pid(w.id()));
    }
    assertEquals(4, pids.stream().distinct().count());
    scheduler.close();
    for (long pid : pids) {
      assertFalse(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false), "pid " + pid);
    }
    assertThrows(IllegalStateException.class, () -> scheduler.createWorkers(cpuJob("late", 1)));
  }

  @Test
  void controlEndpointRefusesACallerWithoutTheSessionSecret() throws Exception {
    try (LocalScheduler scheduler = LocalScheduler.builder().build();
        RootAllocator allocator = new RootAllocator()) {
      Worker w = scheduler.createWorkers(cpuJob("guarded", 1)).get(0);
      try (ControlClient stranger =
          new ControlClient(
              allocator, "127.0.0.1", w.workerPorts().get(0), SessionSecret.generate())) {
        ControlFailure e =
            assertThrows(
                ControlFailure.class,
                () -> stranger.send(new ControlRequest.Ping(), Duration.ofSeconds(10)));
        assertEquals(ControlFailure.Kind.REFUSED, e.kind());
        assertEquals(
            FlightStatusCode.UNAUTHENTICATED,
            ((FlightRuntimeException) e.getCause()).status().code());
      }
      assertEquals(List.of(w), scheduler.getWorkers("guarded", Duration.ofSeconds(10)));
    }
  }
}
