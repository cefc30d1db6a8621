package io.rtensor.jmh;

import io.rtensor.bench.CodecWorkload;
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
 * Encoding a {@code sizeMib} (default 256 MiB) float32 shard to {@code byte[]} and decoding it
 * back, against the baseline of two plain copies of the same bytes (Arrow memory to a new {@code
 * byte[]}, and back into new Arrow memory), measured in the same run ({@link CodecWorkload}, which
 * {@code ./rtensor bench} runs too). The claim: {@code encodeDecode} takes at most 1.25x the time
 * of {@code twoPlainCopies} (throughput at least 0.8x).
 *
 * <p>Run: {@code java @etc/jvm.args -Xmx2g -cp "jmh/target/classes:$(cat
 * jmh/target/runtime-classpath.txt)" org.openjdk.jmh.Main ShardCodecBenchmark -f 1 -wi 2 -i 3}
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 3)
@Fork(
    value = 1,
    jvmArgsAppend = {"-Xmx3g"})
public class ShardCodecBenchmark {
  private static final long COLS = 64 * 1024; // rows of 65536 float32: 4 rows a MiB

  /** The shard's size in MiB (default 1024 x 65536 float32). */
  @Param({"256"})
  public long sizeMib;

  private CodecWorkload codec;

  @Setup(Level.Trial)
  public void setUp() {
    codec = new CodecWorkload(sizeMib * 4, COLS);
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    codec.close();
  }

  /** The shard codec: encode to a byte[], decode back into Arrow memory. */
  @Benchmark
  public long encodeDecode() {
    return codec.encodeDecode();
  }

  /** Breakdown: encoding alone. */
  @Benchmark
  public int encodeOnly() {
    return codec.encodeOnly();
  }

  /** Breakdown: decoding alone, from a shard encoded once in setup. */
  @Benchmark
  public long decodeOnly() {
    return codec.decodeOnly();
  }

  /** Breakdown of the baseline: Arrow memory to a new byte[]. */
  @Benchmark
  public int copyOut() {
    return codec.copyOut();
  }

  /** Breakdown of the baseline: a byte[] into new Arrow memory. */
  @Benchmark
  public long copyIn() {
    return codec.copyIn();
  }

  /** Baseline: the same bytes copied to a new byte[] and into new Arrow memory, nothing else. */
  @Benchmark
  public long twoPlainCopies() {
    return codec.twoPlainCopies();
  }
}
