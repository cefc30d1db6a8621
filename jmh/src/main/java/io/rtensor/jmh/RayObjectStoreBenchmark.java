package io.rtensor.jmh;

import io.ray.api.ActorHandle;
import io.ray.api.ObjectRef;
import io.rtensor.scheduler.ray.RayConnection;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * A 64 MiB shard put by one Java actor and localized by another through the Ray object store plane
 * ({@code javaActorsPutGet64MiB}), against the baseline of Python {@code ray.put} + {@code ray.get}
 * of a 64 MiB numpy array between two Python actors on the same cluster ({@code
 * pythonActorsPutGet64MiB}, driven through {@code jmh/src/main/python/ray_put_get_baseline.py}).
 * The claim: Java throughput at least 0.7x Python's. Also {@code javaActors10kSmallShards}: 10,000
 * shards of 4 KiB put, localized in one batch and freed.
 *
 * <p>What one operation is, on both sides: the driver asks the producer actor to put (its reply
 * carries the references), then asks the consumer actor to get them, and waits for its answer; two
 * awaited actor calls. The Java producer encodes the tensor as an Arrow IPC shard and puts it; the
 * Java consumer gets it, decodes it into Arrow memory it owns (a usable {@code Tensor}) and closes
 * it. The Python producer puts the numpy array (pickle 5, the buffer out of band); the Python
 * consumer's {@code ray.get} maps the plasma buffer read-only (no copy). The free: Python drops its
 * references ({@code del refs}) and Ray releases the object asynchronously; Java sends the clear to
 * the producer without waiting for it, so the free runs in the producer before its next put (its
 * time is counted, the round trip of the reply is not). The Java actors start with the environment
 * the Ray scheduler gives the plane's workers ({@link
 * io.rtensor.transport.RayObjectStorePlane#WORKER_ENV}).
 *
 * <p>Needs the project's Ray head ({@code scripts/ray-head start}, then export {@code
 * scripts/ray-head env}). Run: {@code java @etc/jvm.args -Drtensor.root=$PWD -cp
 * "jmh/target/classes:$(cat jmh/target/runtime-classpath.txt)" org.openjdk.jmh.Main
 * RayObjectStoreBenchmark}
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 3)
@Measurement(iterations = 4, time = 4)
@Fork(
    value = 1,
    jvmArgsAppend = {"-Xmx1g"})
public class RayObjectStoreBenchmark {
  private static final long BIG = 64L << 20;

  private RayConnection connection;
  private ActorHandle<BenchShardActor> producer;
  private ActorHandle<BenchShardActor> consumer;
  private Process python;
  private Writer toPython;
  private BufferedReader fromPython;
  private ObjectRef<Long> lastClear;

  @Setup(Level.Trial)
  public void setUp() throws Exception {
    connection = RayConnection.builder().connect();
    producer = BenchShardActor.start(true);
    consumer = BenchShardActor.start(true);
    javaActorsPutGet64MiB(); // actors started
    String root = System.getProperty("rtensor.root", ".");
    String py = System.getenv("RTENSOR_PYTHON");
    if (py == null || py.isBlank()) {
      py = Path.of(root, ".rtensor", "venv", "bin", "python").toString();
    }
    python =
        new ProcessBuilder(
                py,
                Path.of(root, "jmh", "src", "main", "python", "ray_put_get_baseline.py").toString())
            .redirectError(ProcessBuilder.Redirect.INHERIT)
            .start();
    toPython = new OutputStreamWriter(python.getOutputStream(), StandardCharsets.UTF_8);
    fromPython =
        new BufferedReader(new InputStreamReader(python.getInputStream(), StandardCharsets.UTF_8));
    String ready = fromPython.readLine();
    if (!"ready".equals(ready)) {
      throw new IllegalStateException("Python baseline did not start: " + ready);
    }
  }

  @TearDown(Level.Trial)
  public void tearDown() throws Exception {
    if (lastClear != null) {
      lastClear.get();
    }
    toPython.close();
    if (!python.waitFor(30, TimeUnit.SECONDS)) {
      python.destroyForcibly();
    }
    producer.kill();
    consumer.kill();
    connection.close();
  }

  @Benchmark
  public long javaActorsPutGet64MiB() {
    return roundTrip(1, BIG);
  }

  @Benchmark
  public long javaActors10kSmallShards() {
    return roundTrip(10_000, 4096);
  }

  private long roundTrip(int count, long bytes) {
    List<Object> handles = producer.task(BenchShardActor::produce, count, bytes).remote().get();
    long n = consumer.task(BenchShardActor::consume, handles).remote().get();
    lastClear = producer.task(BenchShardActor::clear, handles).remote(); // runs before the next put
    return n;
  }

  @Benchmark
  public long pythonActorsPutGet64MiB() throws Exception {
    toPython.write("go\n");
    toPython.flush();
    String line = fromPython.readLine();
    if (line == null || !line.startsWith("done")) {
      throw new IllegalStateException("Python baseline: " + line);
    }
    return Long.parseLong(line.substring(5).trim());
  }
}
