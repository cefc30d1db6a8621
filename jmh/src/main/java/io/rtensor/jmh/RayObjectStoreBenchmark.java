package io.rtensor.jmh;

import io.rtensor.bench.RayPutGetWorkload;
import io.rtensor.scheduler.ray.RayConnection;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * A {@code sizeMib} (default 64 MiB) shard put by one Java actor and localized by another through
 * the Ray object store plane ({@code javaActorsPutGet}, including the free), against the baseline
 * of Python {@code ray.put} + {@code ray.get} of a numpy array of the same size between two Python
 * actors on the same cluster ({@code pythonActorsPutGet}, driven through {@code
 * jmh/src/main/python/ray_put_get_baseline.py}); {@link RayPutGetWorkload}, which {@code ./rtensor
 * bench} runs too. The claim: Java throughput at least 0.7x Python's. Also {@code
 * javaActors10kSmallShards}: 10,000 shards of 4 KiB put, localized in one batch and freed.
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
 * io.rtensor.transport.ray.RayObjectStorePlane#WORKER_ENV}).
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
  /** Bytes of the one shard of {@code javaActorsPutGet} and the array of the baseline, in MiB. */
  @Param({"64"})
  public long sizeMib;

  private RayConnection connection;
  private RayPutGetWorkload ray;

  @Setup(Level.Trial)
  public void setUp() throws Exception {
    connection = RayConnection.builder().connect();
    ray =
        new RayPutGetWorkload(
            sizeMib << 20, Path.of(System.getProperty("rtensor.root", ".")), connection.address());
  }

  @TearDown(Level.Trial)
  public void tearDown() throws Exception {
    try {
      ray.close();
    } finally {
      connection.close();
    }
  }

  @Benchmark
  public long javaActorsPutGet() {
    return ray.javaPutGet();
  }

  @Benchmark
  public long javaActors10kSmallShards() {
    return ray.javaPutGet(10_000, 4096);
  }

  @Benchmark
  public long pythonActorsPutGet() throws Exception {
    return ray.pythonPutGet();
  }
}
