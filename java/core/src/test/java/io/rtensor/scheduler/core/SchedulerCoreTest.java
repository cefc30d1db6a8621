package io.rtensor.scheduler.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rtensor.host.CallResult;
import io.rtensor.host.ControlRequest;
import io.rtensor.host.WorkerInfo;
import io.rtensor.scheduler.CallOptions;
import io.rtensor.scheduler.Job;
import io.rtensor.scheduler.SchedulerException;
import io.rtensor.scheduler.WorkerCreationException;
import io.rtensor.scheduler.WorkerFailedException;
import io.rtensor.scheduler.WorkerTimeoutException;
import io.rtensor.transport.Remotizer;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * The rules {@link SchedulerCore} keeps for any backend, pinned with an in-process backend whose
 * failures each test chooses. The contract suite runs the same rules on the real backends.
 */
class SchedulerCoreTest {

  /** A backend of in-memory workers; {@code failLaunchAt} and {@code failure} inject faults. */
  static final class ScriptedBackend extends SchedulerCore<String, String> {
    final List<String> killed = new ArrayList<>();
    final List<String> released = new ArrayList<>();
    final AtomicInteger callsSent = new AtomicInteger();
    int failLaunchAt = -1;
    RuntimeException launchFailure;
    ControlFailure.Kind callFailure;

    ScriptedBackend() {
      super(
          "ScriptedBackend",
          new Timeouts(Duration.ofSeconds(5), Duration.ofSeconds(5), Duration.ofSeconds(5)));
    }

    @Override
    protected String reserve(Job job, Deadline deadline) {
      return "reservation-" + job.role();
    }

    @Override
    protected String masterAddress(String reservation) {
      return "127.0.0.1:1234";
    }

    @Override
    protected String launch(Job job, int rank, String reservation, Map<String, String> env) {
      if (rank == failLaunchAt) {
        throw launchFailure;
      }
      return job.role() + "/" + rank;
    }

    @Override
    protected String launchFork(Job job, int rank, String target, Map<String, String> env) {
      return job.role() + "/" + rank;
    }

    @Override
    protected String awaitStarted(String handle, String workerId, Deadline deadline) {
      return handle;
    }

    @Override
    @SuppressWarnings("unchecked")
    protected <T> T send(String handle, ControlRequest<T> request, Duration timeout)
        throws ControlFailure {
      if (request instanceof ControlRequest.Ping) {
        return (T) new WorkerInfo(handle, 1, "127.0.0.1", List.of());
      }
      if (request instanceof ControlRequest.Call) {
        callsSent.incrementAndGet();
        if (callFailure != null) {
          throw new ControlFailure(callFailure, "scripted", null);
        }
        return (T) CallResult.ok("done");
      }
      if (request instanceof ControlRequest.Destroy) {
        return (T) List.of();
      }
      return null;
    }

    @Override
    protected void stop(String handle, boolean exitRequested) {
      killed.add(handle);
    }

    @Override
    protected void kill(String handle) {
      killed.add(handle);
    }

    @Override
    protected void release(String reservation) {
      released.add(reservation);
    }

    @Override
    protected void closeBackend() {}

    @Override
    public int nGpusPerNode() {
      return 0;
    }

    @Override
    public Remotizer dataPlane() {
      throw new UnsupportedOperationException();
    }
  }

  @Test
  void anUncheckedFailureOfTheBackendBecomesAWorkerCreationExceptionAndUndoesTheStart() {
    for (RuntimeException failure :
        List.of(
            new UncheckedIOException(new java.io.IOException("disk full")),
            new IllegalStateException("no port in the ready file"))) {
      try (ScriptedBackend backend = new ScriptedBackend()) {
        backend.failLaunchAt = 2;
        backend.launchFailure = failure;
        WorkerCreationException e =
            assertThrows(
                WorkerCreationException.class,
                () -> backend.createWorkers(Job.builder("gen").replicas(3).build()));
        assertEquals(failure, e.getCause());
        assertEquals(List.of("gen/0", "gen/1"), backend.killed, "the started ones were killed");
        assertEquals(List.of("reservation-gen"), backend.released);
        assertTrue(backend.roles().isEmpty());
      }
    }
  }

  @Test
  void aSchedulerExceptionOfTheBackendPassesUnchanged() {
    try (ScriptedBackend backend = new ScriptedBackend()) {
      backend.failLaunchAt = 0;
      backend.launchFailure = new WorkerFailedException("gen/0", "createWorkers", 1, "died", null);
      SchedulerException e =
          assertThrows(
              SchedulerException.class,
              () -> backend.createWorkers(Job.builder("gen").replicas(1).build()));
      assertInstanceOf(WorkerFailedException.class, e);
    }
  }

  @Test
  void onlyUndeliveredCallsAreResubmittedUnlessIdempotent() {
    CallOptions options =
        CallOptions.DEFAULT.withMaxRetries(3).withInitialBackoff(Duration.ofMillis(1));
    for (ControlFailure.Kind kind : ControlFailure.Kind.values()) {
      try (ScriptedBackend backend = new ScriptedBackend()) {
        backend.createWorkers(Job.builder("w").build());
        backend.callFailure = kind;
        assertThrows(SchedulerException.class, () -> backend.callEngine("w/0", "m", null, options));
        int expected = kind == ControlFailure.Kind.NOT_DELIVERED ? 4 : 1;
        assertEquals(expected, backend.callsSent.get(), kind + " attempts");

        backend.callsSent.set(0);
        SchedulerException e =
            assertThrows(
                SchedulerException.class,
                () -> backend.callEngine("w/0", "m", null, options.withIdempotent(true)));
        int idempotent =
            switch (kind) {
              case NOT_DELIVERED, TIMED_OUT, BROKEN -> 4;
              default -> 1;
            };
        assertEquals(idempotent, backend.callsSent.get(), kind + " attempts when idempotent");
        if (kind == ControlFailure.Kind.TIMED_OUT) {
          assertInstanceOf(WorkerTimeoutException.class, e);
        }
      }
    }
  }
}
