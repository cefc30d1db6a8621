package io.rtensor.bench;

import io.ray.api.ActorHandle;
import io.ray.api.Ray;
import io.ray.api.runtimecontext.ActorInfo;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * A shard put by one Java actor and localized by another through the Ray object store plane,
 * including the free ({@link #javaPutGet}), against the baseline of Python {@code ray.put} + {@code
 * ray.get} of a numpy array of the same size between two Python actors on the same cluster ({@link
 * #pythonPutGet}, driven through {@code jmh/src/main/python/ray_put_get_baseline.py}). The claim:
 * Java throughput at least Python's (1.0x); with the producers on one node and the consumers on
 * another ({@code ./rtensor bench}'s {@code ray-cross-node}), at least {@link #CROSS_NODE_GOAL}.
 *
 * <p>Needs this JVM connected to Ray ({@code RayConnection}) and a Python with {@code ray} and
 * {@code numpy}: {@code RTENSOR_PYTHON}, else the project's venv {@code .rtensor/venv}.
 */
public final class RayPutGetWorkload implements AutoCloseable {
  /** Throughput of {@link #javaPutGet} over {@link #pythonPutGet} the project aims for. */
  public static final double GOAL = 1.0;

  /** The same across two nodes, many large shards a round trip. */
  public static final double CROSS_NODE_GOAL = 0.9;

  /**
   * Round trips of small shards ({@link #JIT_WARMUP_SHARD_BYTES}) the Java actors make before a
   * timed run ({@link #warmUpJava}): enough calls for the JIT to compile the call, remotize and
   * localize paths, as in a controller that has run for a while. Python's interpreter needs none.
   */
  public static final int JIT_WARMUP_ROUNDS = 1000;

  /** The longest {@link #warmUpJava} runs (round trips across nodes are slower). */
  public static final long JIT_WARMUP_MAX_MS = 20_000;

  /** The shard size of {@link #warmUpJava}'s round trips. */
  public static final long JIT_WARMUP_SHARD_BYTES = 4096;

  /** The Python baseline, relative to the repository root. */
  public static final Path PYTHON_BASELINE =
      Path.of("jmh", "src", "main", "python", "ray_put_get_baseline.py");

  private final int count;
  private final long shardBytes;
  private final ActorHandle<BenchShardActor> producer;
  private final ActorHandle<BenchShardActor> consumer;
  private final Process python;

  /** How long one put+get step (either side) may take before the bench gives up on it. */
  static final long STEP_TIMEOUT_MS = 10 * 60_000L;

  private static final ScheduledExecutorService WATCHDOG =
      Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread t = new Thread(r, "bench-python-watchdog");
            t.setDaemon(true);
            return t;
          });
  private final Writer toPython;
  private final BufferedReader fromPython;
  private final String placement;

  /**
   * Starts the two Java actors and the Python baseline (its actors on the head at {@code address}).
   *
   * @param root the repository root (where the Python baseline and the venv are)
   */
  public RayPutGetWorkload(long bytes, Path root, String address) throws IOException {
    this(1, bytes, null, null, python(root), root, address);
  }

  /**
   * Starts the two Java actors and the two Python actors of the baseline (on the head at {@code
   * address}): each round trip moves {@code count} shards of {@code shardBytes} bytes. Both
   * producers are pinned to node {@code producerIp} and both consumers to {@code consumerIp} (Ray's
   * {@code node:<ip>} resource), and the GCS's actor table must show each actor on its node, else
   * the constructor fails. Different nodes: every get pulls the objects from the other node's
   * object store. Without node IPs, all four actors are pinned to this driver's node, so that a
   * multi-node cluster does not turn some round trips into transfers between nodes.
   *
   * @param pythonExe the Python with {@code ray} and {@code numpy}
   * @param root the repository root (where the Python baseline is)
   */
  public RayPutGetWorkload(
      int count,
      long shardBytes,
      String producerIp,
      String consumerIp,
      String pythonExe,
      Path root,
      String address)
      throws IOException {
    if (count < 1 || (producerIp == null) != (consumerIp == null)) {
      throw new IllegalArgumentException(
          count + " shards, producer node " + producerIp + ", consumer node " + consumerIp);
    }
    if (producerIp == null) {
      producerIp = driverNodeIp();
      consumerIp = producerIp;
    }
    this.count = count;
    this.shardBytes = shardBytes;
    // Started with the environment the Ray scheduler gives the plane's workers.
    producer = BenchShardActor.start(true, producerIp);
    consumer = BenchShardActor.start(true, consumerIp);
    Process started = null;
    try {
      javaPutGet(1, shardBytes); // the actors are up
      Path script = root.resolve(PYTHON_BASELINE);
      if (!Files.isRegularFile(script)) {
        throw new IOException("no Python baseline at " + script + " (is rtensor.root right?)");
      }
      List<String> cmd = new ArrayList<>();
      cmd.addAll(
          List.of(
              pythonExe, script.toString(), Long.toString(shardBytes), Integer.toString(count)));
      cmd.addAll(List.of(producerIp, consumerIp));
      ProcessBuilder pb = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT);
      if (address != null) {
        pb.environment().put("RTENSOR_RAY_ADDRESS", address);
      }
      started = pb.start();
      toPython = new OutputStreamWriter(started.getOutputStream(), StandardCharsets.UTF_8);
      fromPython =
          new BufferedReader(
              new InputStreamReader(started.getInputStream(), StandardCharsets.UTF_8));
      String ready = fromPython.readLine();
      String[] words = ready == null ? new String[0] : ready.split(" ");
      if (words.length != 3 || !words[0].equals("ready")) {
        throw new IOException("the Python baseline did not start: " + ready);
      }
      python = started;
      placement =
          verifyPlacement(
              Map.of("Java producer", producer.getId().toString(), "Python producer", words[1]),
              producerIp,
              Map.of("Java consumer", consumer.getId().toString(), "Python consumer", words[2]),
              consumerIp);
    } catch (IOException | RuntimeException e) {
      if (started != null) {
        started.destroyForcibly();
      }
      producer.kill();
      consumer.kill();
      throw e;
    }
  }

  /**
   * Checks in the GCS's actor table that the producers (name to actor id, hex) run on {@code
   * producerIp} and the consumers on {@code consumerIp} (the same node or another); returns where
   * they are.
   */
  private static String verifyPlacement(
      Map<String, String> producers,
      String producerIp,
      Map<String, String> consumers,
      String consumerIp) {
    Map<String, String> nodeOf = new HashMap<>();
    for (ActorInfo info : Ray.getRuntimeContext().getAllActorInfo()) {
      if (info.address != null) {
        nodeOf.put(info.actorId.toString(), info.address.ip);
      }
    }
    Map<String, String> where = new TreeMap<>();
    for (var expect : List.of(Map.entry(producers, producerIp), Map.entry(consumers, consumerIp))) {
      for (var actor : expect.getKey().entrySet()) {
        String ip = nodeOf.get(actor.getValue());
        if (!expect.getValue().equals(ip)) {
          throw new IllegalStateException(
              "the GCS's actor table has the "
                  + actor.getKey()
                  + " ("
                  + actor.getValue()
                  + ") on node "
                  + ip
                  + ", not on "
                  + expect.getValue());
        }
        where.put(actor.getKey(), ip);
      }
    }
    return where.toString();
  }

  /** The IP of the node this driver connected through, from the GCS's node table. */
  static String driverNodeIp() {
    io.ray.api.id.UniqueId current = Ray.getRuntimeContext().getCurrentNodeId();
    for (io.ray.api.runtimecontext.NodeInfo node : Ray.getRuntimeContext().getAllNodeInfo()) {
      if (node.nodeId.equals(current)) {
        return node.nodeAddress;
      }
    }
    throw new IllegalStateException("the GCS's node table lacks this driver's node " + current);
  }

  /** {@code RTENSOR_PYTHON}, else {@code ROOT/.rtensor/venv/bin/python}. */
  public static String python(Path root) {
    String py = System.getenv("RTENSOR_PYTHON");
    return py == null || py.isBlank()
        ? root.resolve(Path.of(".rtensor", "venv", "bin", "python")).toString()
        : py;
  }

  /** Bytes each round trip moves. */
  public long bytes() {
    return count * shardBytes;
  }

  /**
   * Where the GCS has the actors of a cross-node workload, e.g. {@code {Java consumer=127.0.0.1,
   * ...}}; empty when they are not pinned.
   */
  public String placement() {
    return placement;
  }

  /** The shards of {@link #bytes} put, localized in one batch and freed. */
  public long javaPutGet() {
    return javaPutGet(count, shardBytes);
  }

  /** {@code count} shards of {@code shardBytes} put, localized in one batch and freed. */
  public long javaPutGet(int count, long shardBytes) {
    List<Object> handles =
        producer.task(BenchShardActor::produce, count, shardBytes).remote().get(STEP_TIMEOUT_MS);
    // The producer frees these shards at the start of its next produce (timed there), as a
    // Python producer's objects go when its driver drops the references; the last ones when it is
    // stopped.
    return consumer.task(BenchShardActor::consume, handles).remote().get(STEP_TIMEOUT_MS);
  }

  /**
   * Runs {@code rounds} round trips of this workload's shard count in {@link
   * #JIT_WARMUP_SHARD_BYTES}-byte shards, or as many as fit in {@link #JIT_WARMUP_MAX_MS}, so that
   * a timed run measures compiled code, not the interpreter; returns the round trips made.
   */
  public int warmUpJava(int rounds) {
    long end = System.nanoTime() + JIT_WARMUP_MAX_MS * 1_000_000L;
    int done = 0;
    while (done < rounds && System.nanoTime() - end < 0) {
      javaPutGet(count, JIT_WARMUP_SHARD_BYTES);
      done++;
    }
    return done;
  }

  /** Baseline: Python ray.put in one actor, ray.get in another. */
  public long pythonPutGet() throws IOException {
    toPython.write("go\n");
    toPython.flush();
    // A baseline that does not answer within the step's deadline is stopped: readLine then ends.
    ScheduledFuture<?> watchdog =
        WATCHDOG.schedule(python::destroyForcibly, STEP_TIMEOUT_MS, TimeUnit.MILLISECONDS);
    String line;
    try {
      line = fromPython.readLine();
    } finally {
      watchdog.cancel(false);
    }
    if (line == null || !line.startsWith("done")) {
      throw new IOException("the Python baseline answered: " + line);
    }
    return Long.parseLong(line.substring(5).trim());
  }

  @Override
  public void close() throws Exception {
    try {
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
