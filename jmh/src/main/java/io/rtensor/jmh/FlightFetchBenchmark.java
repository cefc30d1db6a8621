package io.rtensor.jmh;

import io.rtensor.bench.FlightWorkload;
import java.util.ArrayList;
import java.util.List;
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
 * Fetching {@code sizeMib} (default 1 GiB) as 64 shards from a worker JVM over loopback with the
 * Flight data plane ({@code flightFetch}), against the baseline of a raw socket copy of the same
 * bytes between the same two JVMs into fresh Arrow memory ({@code rawSocket}), in one run ({@link
 * FlightWorkload}, which {@code ./rtensor bench} runs too). The claim: flight throughput at least
 * 0.6x the baseline. Also {@code flightFetch10kSmallShards}: 10,000 shards of 4 KiB in one
 * localization (shards per second = 10,000 / time).
 *
 * <p>Run: {@code java @etc/jvm.args -cp "jmh/target/classes:$(cat
 * jmh/target/runtime-classpath.txt)" org.openjdk.jmh.Main FlightFetchBenchmark}; extra flags for
 * the worker JVM in {@code -Drtensor.bench.workerJvmArgs="..."}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
// Both JVMs (this one and the worker's) keep compiling Netty's and gRPC's paths for about twenty
// 1 GiB fetches: a shorter warm-up measures the JIT, not the transport.
@Warmup(iterations = 8, time = 4)
@Measurement(iterations = 5, time = 3)
@Fork(
    value = 1,
    jvmArgsAppend = {"-Xmx1g"})
public class FlightFetchBenchmark {
  private static final int SHARDS = 64;
  private static final int SMALL = 10_000;

  /** Bytes of one fetch of the 64 big shards, in MiB. */
  @Param({"1024"})
  public long sizeMib;

  private FlightWorkload flight;

  @Setup(Level.Trial)
  public void setUp() throws Exception {
    List<String> workerArgs = new ArrayList<>();
    for (String a : System.getProperty("rtensor.bench.workerJvmArgs", "").split(" ")) {
      if (!a.isBlank()) {
        workerArgs.add(a);
      }
    }
    flight = new FlightWorkload(SHARDS, (sizeMib << 20) / SHARDS, SMALL, workerArgs);
  }

  @TearDown(Level.Trial)
  public void tearDown() throws Exception {
    flight.close();
  }

  @Benchmark
  public long flightFetch() {
    return flight.flightFetch();
  }

  /** The same shards through shared memory (the worker is on this node), copied once. */
  @Benchmark
  public long sameNodeFetch() {
    return flight.sameNodeFetch();
  }

  @Benchmark
  public long flightFetch10kSmallShards() {
    return flight.flightFetchSmall();
  }

  @Benchmark
  public long rawSocket() throws Exception {
    return flight.rawSocket();
  }
}
