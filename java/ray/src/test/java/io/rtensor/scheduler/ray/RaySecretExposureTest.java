package io.rtensor.scheduler.ray;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rtensor.handle.RTensor;
import io.rtensor.runtime.SessionSecret;
import io.rtensor.scheduler.CallOptions;
import io.rtensor.scheduler.Job;
import io.rtensor.scheduler.SchedulingSpec;
import io.rtensor.tensor.Shape;
import io.rtensor.tensor.Tensor;
import io.rtensor.tensor.TensorBatch;
import io.rtensor.testing.RayTestCluster;
import io.rtensor.testing.engines.TensorEngine;
import io.rtensor.transport.DataPlaneKind;
import java.io.IOException;
import java.lang.reflect.Field;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * After a Ray + Flight run, the session secret (and the keys derived from it) is in none of the
 * files of the Ray session (logs, runtime-env records), which Ray writes readable by other users
 * and keeps after the head stops.
 */
@Tag("ray")
class RaySecretExposureTest {

  /** The session secret of {@code scheduler} (private to it: read here for the search only). */
  private static String secretOf(RayScheduler scheduler) throws ReflectiveOperationException {
    Field f = RayScheduler.class.getDeclaredField("secret");
    f.setAccessible(true);
    return ((SessionSecret) f.get(scheduler)).value();
  }

  private static boolean contains(byte[] hay, byte[] needle) {
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

  @Test
  void theSecretIsInNoFileOfTheRaySessionAfterAFlightRun() throws Exception {
    RayTestCluster.connect();
    String tempDir = System.getenv("RTENSOR_RAY_TEMP_DIR");
    Assumptions.assumeTrue(
        tempDir != null, "RTENSOR_RAY_TEMP_DIR names the head's temp dir (scripts/ray-head env)");
    String secret;
    String id;
    try (RayScheduler scheduler =
            RayScheduler.builder()
                .dataPlane(DataPlaneKind.FLIGHT)
                .startupTimeout(Duration.ofSeconds(90))
                .build();
        BufferAllocator mine = new RootAllocator()) {
      id = scheduler.id();
      secret = secretOf(scheduler);
      scheduler.createWorkers(
          Job.builder("leak").task(SchedulingSpec.builder().cpu(0.25).build()).build());
      scheduler.createEngine("leak/0", TensorEngine.class.getName(), null);
      long[] tokens = new long[8 * 4];
      for (int r = 0; r < 8; r++) {
        for (int c = 0; c < 4; c++) {
          tokens[r * 4 + c] = r * 10L + c;
        }
      }
      Object remote;
      try (TensorBatch batch = TensorBatch.of("tokens", Tensor.of(mine, tokens, Shape.of(8, 4)))) {
        remote = scheduler.dataPlane().remotize(Map.of("batch", batch));
      }
      long expected = 0;
      for (long t : tokens) {
        expected += t;
      }
      RTensor handle = (RTensor) ((Map<?, ?>) remote).get("batch");
      assertEquals(
          expected,
          scheduler.callEngine("leak/0", "sumTokens", null, CallOptions.DEFAULT, handle),
          "the worker fetched the controller's shard over Flight");
      Object produced = scheduler.callEngine("leak/0", "produce", null, CallOptions.DEFAULT, 4);
      try (TensorBatch back = (TensorBatch) scheduler.dataPlane().localize(produced)) {
        assertEquals(4, back.rows(), "the controller fetched the worker's shard over Flight");
      }
      scheduler.clearShards(List.of(remote, produced));
    }

    SessionSecret s = SessionSecret.of(secret);
    List<byte[]> needles = new ArrayList<>();
    needles.add(secret.getBytes(StandardCharsets.UTF_8));
    for (String purpose : List.of(SessionSecret.DATA_PLANE, SessionSecret.CONTROL)) {
      needles.add(s.key(purpose));
      needles.add(HexFormat.of().formatHex(s.key(purpose)).getBytes(StandardCharsets.UTF_8));
    }
    Path session = Path.of(tempDir, "session_latest").toRealPath();
    List<Path> files;
    try (Stream<Path> walk = Files.walk(session)) {
      files = walk.filter(Files::isRegularFile).toList();
    }
    byte[] actorPrefix = ("rtensor-" + id).getBytes(StandardCharsets.UTF_8);
    boolean sawThisRun = false;
    List<String> leaks = new ArrayList<>();
    for (Path f : files) {
      byte[] content;
      try {
        if (Files.size(f) > (256L << 20)) {
          continue; // copies of Ray's native libraries, not logs
        }
        content = Files.readAllBytes(f);
      } catch (IOException e) {
        continue; // a file Ray removed meanwhile
      }
      sawThisRun |= contains(content, actorPrefix);
      for (byte[] n : needles) {
        if (contains(content, n)) {
          leaks.add(session.relativize(f).toString());
          break;
        }
      }
    }
    System.out.println(
        "[ray secret search] " + files.size() + " files under " + session + "; leaks: " + leaks);
    assertTrue(sawThisRun, "the session's files mention this run's actors (" + id + ")");
    assertEquals(List.of(), leaks, "files of the Ray session holding the secret or a derived key");
  }
}
