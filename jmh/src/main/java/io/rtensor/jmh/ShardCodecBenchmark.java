package io.rtensor.jmh;

import io.rtensor.tensor.DType;
import io.rtensor.tensor.Shape;
import io.rtensor.tensor.Tensor;
import io.rtensor.tensor.TensorBatch;
import io.rtensor.wire.ShardCodec;
import java.util.concurrent.TimeUnit;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.memory.util.MemoryUtil;
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
 * Encoding a 256 MiB float32 shard to {@code byte[]} and decoding it back, against the baseline of
 * two plain copies of the same bytes (Arrow memory to a new {@code byte[]}, and back into new Arrow
 * memory), measured in the same run. The claim: {@code encodeDecode} takes at most 1.25x the time
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
  private static final long ROWS = 1024;
  private static final long COLS = 64 * 1024; // 1024 x 65536 float32 = 256 MiB

  private BufferAllocator allocator;
  private Tensor tensor;
  private TensorBatch batch;

  @Setup(Level.Trial)
  public void setUp() {
    allocator = new RootAllocator();
    tensor = Tensor.allocate(allocator, DType.FLOAT32, Shape.of(ROWS, COLS));
    ArrowBuf b = tensor.buffer();
    for (long i = 0; i < b.capacity(); i += 4096) {
      b.setFloat(i, i); // touch every page so the first copy does not pay the page faults
    }
    batch = TensorBatch.of("x", tensor.share());
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    batch.close();
    tensor.close();
    allocator.close();
  }

  /** The shard codec: encode to a byte[], decode back into Arrow memory. */
  @Benchmark
  public long encodeDecode() {
    byte[] bytes = ShardCodec.encode(batch);
    try (TensorBatch back = ShardCodec.decode(bytes, allocator)) {
      return back.tensor("x").byteSize() + bytes.length;
    }
  }

  /** Baseline: the same bytes copied to a new byte[] and into new Arrow memory, nothing else. */
  @Benchmark
  public long twoPlainCopies() {
    ArrowBuf src = tensor.buffer();
    long n = src.capacity();
    byte[] bytes = new byte[(int) n];
    MemoryUtil.copyFromMemory(src.memoryAddress(), bytes, 0, n);
    try (ArrowBuf dst = allocator.buffer(n)) {
      MemoryUtil.copyToMemory(bytes, 0, dst.memoryAddress(), n);
      return dst.capacity() + bytes.length;
    }
  }
}
