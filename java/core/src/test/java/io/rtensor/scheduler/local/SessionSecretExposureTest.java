package io.rtensor.scheduler.local;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rtensor.runtime.HostPort;
import io.rtensor.runtime.SessionSecret;
import io.rtensor.scheduler.CallOptions;
import io.rtensor.scheduler.Job;
import io.rtensor.scheduler.SchedulingSpec;
import io.rtensor.scheduler.Worker;
import io.rtensor.scheduler.WorkerFailedException;
import io.rtensor.testing.PortSquatter;
import io.rtensor.testing.engines.TensorEngine;
import io.rtensor.transport.DataPlaneAuthException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.apache.arrow.flight.impl.Flight;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The session secret never crosses the wire and lands in no log: a process that takes over a dead
 * worker's ports learns nothing it can use against the live workers, and the workers' logs and
 * command lines do not hold the secret.
 */
class SessionSecretExposureTest {
  private static final CallOptions ONCE = CallOptions.DEFAULT;

  private static Job cpuJob(String role, int replicas) {
    return Job.builder(role).replicas(replicas).task(SchedulingSpec.builder().build()).build();
  }

  /** The session secret, read where it lives: the worker's own environment (mode 0400). */
  private static String secretOf(long pid) throws Exception {
    byte[] environ = Files.readAllBytes(Path.of("/proc", Long.toString(pid), "environ"));
    for (String entry : new String(environ, StandardCharsets.UTF_8).split("\0")) {
      if (entry.startsWith(SessionSecret.ENV + "=")) {
        return entry.substring(SessionSecret.ENV.length() + 1);
      }
    }
    throw new AssertionError("no " + SessionSecret.ENV + " in the environment of " + pid);
  }

  /** The secret, the keys derived from it, as bytes and as hex. */
  private static List<byte[]> secrets(String secret) {
    SessionSecret s = SessionSecret.of(secret);
    List<byte[]> out = new ArrayList<>();
    out.add(secret.getBytes(StandardCharsets.UTF_8));
    for (String purpose : List.of(SessionSecret.DATA_PLANE, SessionSecret.CONTROL)) {
      byte[] key = s.key(purpose);
      out.add(key);
      out.add(HexFormat.of().formatHex(key).getBytes(StandardCharsets.UTF_8));
    }
    return out;
  }

  static boolean contains(byte[] hay, byte[] needle) {
    outer:
    for (int i = 0; i + needle.length <= hay.length; i++) {
      for (int j = 0; j < needle.length; j++) {
        if (hay[i + j] != needle[j]) {
          continue outer;
        }
      }
      return true;
    }
    return false;
  }

  private static long tokenSum(int rows) {
    long sum = 0;
    for (int r = 0; r < rows; r++) {
      sum += 4 * r * 10L + 6;
    }
    return sum;
  }

  @Test
  void aProcessOnADeadWorkersPortsLearnsNothingItCanUse() throws Exception {
    try (LocalScheduler scheduler = LocalScheduler.builder().build()) {
      List<Worker> workers = scheduler.createWorkers(cpuJob("w", 2));
      for (Worker w : workers) {
        scheduler.createEngine(w.id(), TensorEngine.class.getName(), null);
      }
      Worker victim = workers.get(0);
      Worker survivor = workers.get(1);
      Object fetchedBefore = scheduler.callEngine("w/0", "produce", null, ONCE, 8);
      Object fetchedAfter = scheduler.callEngine("w/0", "produce", null, ONCE, 4);
      // The survivor fetches from the victim: it holds a connection and a token for it now.
      assertEquals(
          tokenSum(8), scheduler.callEngine("w/1", "sumTokens", null, ONCE, fetchedBefore));
      String secret = secretOf(scheduler.pid("w/1"));

      ProcessHandle victimProcess = ProcessHandle.of(scheduler.pid("w/0")).orElseThrow();
      victimProcess.destroyForcibly();
      victimProcess.onExit().get(30, TimeUnit.SECONDS);
      HostPort liveControl = new HostPort("127.0.0.1", survivor.workerPorts().get(0));
      HostPort liveData = new HostPort("127.0.0.1", survivor.workerPorts().get(1));
      // The squatters relay each hello to the survivor and send back its real challenge.
      try (PortSquatter control = PortSquatter.bind(victim.workerPorts().get(0), liveControl);
          PortSquatter data = PortSquatter.bind(victim.workerPorts().get(1), liveData)) {
        WorkerFailedException dead =
            assertThrows(
                WorkerFailedException.class, () -> scheduler.callEngine("w/0", "pid", null, ONCE));
        assertTrue(dead.getMessage().contains("exited"), dead.getMessage());
        RuntimeException survivorFetch =
            assertThrows(
                RuntimeException.class,
                () -> scheduler.callEngine("w/1", "sumTokens", null, ONCE, fetchedAfter));
        assertTrue(
            survivorFetch.getMessage().contains("did not prove"), survivorFetch.getMessage());
        DataPlaneAuthException controllerFetch =
            assertThrows(
                DataPlaneAuthException.class, () -> scheduler.dataPlane().localize(fetchedAfter));
        assertTrue(
            controllerFetch.getMessage().contains("did not prove"), controllerFetch.getMessage());
        control.awaitQuiet();
        data.awaitQuiet();

        for (PortSquatter squatter : List.of(control, data)) {
          HostPort live = squatter == control ? liveControl : liveData;
          String which = squatter == control ? "control port" : "data port";
          byte[] raw = squatter.rawBytes();
          assertTrue(raw.length > 0, "the " + which + " squatter was called");
          assertFalse(squatter.calls().isEmpty(), which);
          for (byte[] s : secrets(secret)) {
            assertFalse(contains(raw, s), "a secret or key in the bytes sent to the " + which);
            for (PortSquatter.Call c : squatter.calls()) {
              for (List<byte[]> values : c.headers().values()) {
                values.forEach(v -> assertFalse(contains(v, s), which + " header " + c));
              }
              c.messages().forEach(m -> assertFalse(contains(m, s), which + " message " + c));
            }
          }
          // Nothing but handshake hellos: no proof, no token, no request.
          assertEquals(List.of(), squatter.tokens(), "no token reached the " + which);
          for (PortSquatter.Call c : squatter.calls()) {
            assertTrue(c.method().endsWith("/Handshake"), which + " got " + c.method());
          }
          List<byte[]> payloads = squatter.handshakePayloads();
          assertFalse(payloads.isEmpty(), which);
          for (byte[] p : payloads) {
            assertEquals(37, p.length, "a hello: magic, type and a 32-byte nonce");
            assertEquals(1, p[4], "type hello, never a proof");
          }

          // Replaying what was captured against the live worker gets no token and no data.
          for (PortSquatter.Call c : squatter.calls()) {
            PortSquatter.Replayed r = PortSquatter.replay(live, c, 1_000);
            for (byte[] m : r.messages()) {
              byte[] payload = Flight.HandshakeResponse.parseFrom(m).getPayload().toByteArray();
              assertNotEquals(4, payload.length > 4 ? payload[4] : -1, "a token came back");
            }
            assertNotNull(r.status());
            assertFalse(r.status().isOk(), "the replayed handshake did not succeed: " + r);
          }
          byte[] back = PortSquatter.replayRaw(live, raw, 1_000);
          assertFalse(
              contains(back, new byte[] {'R', 'T', 'A', '1', 4}),
              "a token came back to the raw replay on the " + which);
        }
      }
      assertEquals(
          tokenSum(8), scheduler.callEngine("w/1", "sumTokens", null, ONCE, fetchedBefore));
    }
  }

  @Test
  void theSecretIsInNoWorkerLogAndOnNoCommandLine(@TempDir Path logs) throws Exception {
    String secret;
    try (LocalScheduler scheduler = LocalScheduler.builder().logDir(logs).build()) {
      List<Worker> workers = scheduler.createWorkers(cpuJob("logged", 2));
      for (Worker w : workers) {
        scheduler.createEngine(w.id(), TensorEngine.class.getName(), null);
      }
      Object shard = scheduler.callEngine("logged/0", "produce", null, ONCE, 8);
      assertEquals(tokenSum(8), scheduler.callEngine("logged/1", "sumTokens", null, ONCE, shard));
      secret = secretOf(scheduler.pid("logged/0"));
      for (Worker w : workers) {
        ProcessHandle p = ProcessHandle.of(scheduler.pid(w.id())).orElseThrow();
        String commandLine = p.info().commandLine().orElse("");
        assertFalse(commandLine.isEmpty(), "the command line of " + w.id() + " is readable");
        for (byte[] s : secrets(secret)) {
          assertFalse(
              commandLine.contains(new String(s, StandardCharsets.ISO_8859_1)), commandLine);
        }
      }
    }
    List<Path> files;
    try (Stream<Path> walk = Files.walk(logs)) {
      files = walk.filter(Files::isRegularFile).toList();
    }
    assertFalse(files.isEmpty(), "the workers wrote logs");
    for (Path f : files) {
      byte[] content = Files.readAllBytes(f);
      for (byte[] s : secrets(secret)) {
        assertFalse(contains(content, s), "a secret or key in " + f);
      }
    }
  }
}
