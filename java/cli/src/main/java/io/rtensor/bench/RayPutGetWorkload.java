package io.rtensor.bench;

import io.ray.api.ActorHandle;
import io.ray.api.ObjectRef;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A shard put by one Java actor and localized by another through the Ray object store plane,
 * including the free ({@link #javaPutGet}), against the baseline of Python {@code ray.put} + {@code
 * ray.get} of a numpy array of the same size between two Python actors on the same cluster ({@link
 * #pythonPutGet}, driven through {@code jmh/src/main/python/ray_put_get_baseline.py}). The claim:
 * Java throughput at least 0.7x Python's.
 *
 * <p>Needs this JVM connected to Ray ({@code RayConnection}) and a Python with {@code ray} and
 * {@code numpy}: {@code RTENSOR_PYTHON}, else the project's venv {@code .rtensor/venv}.
 */
public final class RayPutGetWorkload implements AutoCloseable {
  /** Throughput of {@link #javaPutGet} over {@link #pythonPutGet} the project aims for. */
  public static final double GOAL = 0.7;

  /** The Python baseline, relative to the repository root. */
  public static final Path PYTHON_BASELINE =
      Path.of("jmh", "src", "main", "python", "ray_put_get_baseline.py");

  private final long bytes;
  private final ActorHandle<BenchShardActor> producer;
  private final ActorHandle<BenchShardActor> consumer;
  private ObjectRef<Long> lastClear;
  private final Process python;
  private final Writer toPython;
  private final BufferedReader fromPython;

  /**
   * Starts the two Java actors and the Python baseline (its actors on the head at {@code address}).
   *
   * @param root the repository root (where the Python baseline and the venv are)
   */
  public RayPutGetWorkload(long bytes, Path root, String address) throws IOException {
    this.bytes = bytes;
    // Started with the environment the Ray scheduler gives the plane's workers.
    producer = BenchShardActor.start(true);
    consumer = BenchShardActor.start(true);
    Process started = null;
    try {
      javaPutGet(1, bytes); // the actors are up
      Path script = root.resolve(PYTHON_BASELINE);
      if (!Files.isRegularFile(script)) {
        throw new IOException("no Python baseline at " + script + " (is rtensor.root right?)");
      }
      ProcessBuilder pb =
          new ProcessBuilder(python(root), script.toString(), Long.toString(bytes))
              .redirectError(ProcessBuilder.Redirect.INHERIT);
      if (address != null) {
        pb.environment().put("RTENSOR_RAY_ADDRESS", address);
      }
      started = pb.start();
      toPython = new OutputStreamWriter(started.getOutputStream(), StandardCharsets.UTF_8);
      fromPython =
          new BufferedReader(
              new InputStreamReader(started.getInputStream(), StandardCharsets.UTF_8));
      String ready = fromPython.readLine();
      if (!"ready".equals(ready)) {
        throw new IOException("the Python baseline did not start: " + ready);
      }
      python = started;
    } catch (IOException | RuntimeException e) {
      if (started != null) {
        started.destroyForcibly();
      }
      producer.kill();
      consumer.kill();
      throw e;
    }
  }

  /** {@code RTENSOR_PYTHON}, else {@code ROOT/.rtensor/venv/bin/python}. */
  public static String python(Path root) {
    String py = System.getenv("RTENSOR_PYTHON");
    return py == null || py.isBlank()
        ? root.resolve(Path.of(".rtensor", "venv", "bin", "python")).toString()
        : py;
  }

  /** Bytes of the object each round trip moves. */
  public long bytes() {
    return bytes;
  }

  /** One shard of {@link #bytes} put, localized and freed. */
  public long javaPutGet() {
    return javaPutGet(1, bytes);
  }

  /** {@code count} shards of {@code shardBytes} put, localized in one batch and freed. */
  public long javaPutGet(int count, long shardBytes) {
    List<Object> handles =
        producer.task(BenchShardActor::produce, count, shardBytes).remote().get();
    long n = consumer.task(BenchShardActor::consume, handles).remote().get();
    // Like Python's `del refs`: the free is sent, not awaited; it runs in the producer before its
    // next put (an actor runs one caller's tasks in order), so its time is still counted.
    lastClear = producer.task(BenchShardActor::clear, handles).remote();
    return n;
  }

  /** Baseline: Python ray.put in one actor, ray.get in another. */
  public long pythonPutGet() throws IOException {
    toPython.write("go\n");
    toPython.flush();
    String line = fromPython.readLine();
    if (line == null || !line.startsWith("done")) {
      throw new IOException("the Python baseline answered: " + line);
    }
    return Long.parseLong(line.substring(5).trim());
  }

  @Override
  public void close() throws Exception {
    try {
      if (lastClear != null) {
        lastClear.get();
      }
      toPython.close();
      if (!python.waitFor(30, TimeUnit.SECONDS)) {
        python.destroyForcibly();
      }
    } finally {
      producer.kill();
      consumer.kill();
    }
  }
}
