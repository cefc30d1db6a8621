package io.rtensor.jmh;

import io.rtensor.tensor.DType;
import io.rtensor.tensor.Shape;
import io.rtensor.tensor.TensorBatch;
import io.rtensor.wire.ShardCodec;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.openjdk.jmh.annotations.AuxCounters;
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
 * Splitting a 64-row, 16 MiB batch into 64 shards and encoding each into Arrow memory: the time,
 * and the Arrow memory allocated beyond the encoded outputs ({@code extraBytes}, reported as an
 * auxiliary counter; the claim is under 1 MiB, i.e. no intermediate copies). The {@code
 * encodeWhole} benchmark encodes the unsplit batch once, as a baseline for the time.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 3)
@Fork(
    value = 1,
    jvmArgsAppend = {"-Xmx1g"})
public class ShardSplitBenchmark {
  private BufferAllocator root;
  private TensorBatch batch;

  /**
   * Per-iteration report of the memory held beyond the encoded outputs (the outputs counted as the
   * allocator accounts them, rounding included).
   */
  @State(Scope.Thread)
  @AuxCounters(AuxCounters.Type.EVENTS)
  public static class Extra {
    /** Largest Arrow allocation beyond the outputs seen in one invocation, in bytes. */
    public long extraBytes;
  }

  @Setup(Level.Trial)
  public void setUp() {
    root = new RootAllocator();
    // ids [64] int64, hidden [64, 256, 255] float32, mask [64, 1024] bool: 16 MiB in all
    java.util.LinkedHashMap<String, io.rtensor.tensor.Tensor> m = new java.util.LinkedHashMap<>();
    m.put("ids", io.rtensor.tensor.Tensor.allocate(root, DType.INT64, Shape.of(64)));
    m.put("hidden", io.rtensor.tensor.Tensor.allocate(root, DType.FLOAT32, Shape.of(64, 256, 255)));
    m.put("mask", io.rtensor.tensor.Tensor.allocate(root, DType.BOOL, Shape.of(64, 1024)));
    batch = TensorBatch.of(m);
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    batch.close();
    root.close();
  }

  @Benchmark
  public long splitAndEncode64(Extra extra) {
    try (BufferAllocator child = root.newChildAllocator("split", 0, Long.MAX_VALUE)) {
      List<ArrowBuf> outputs = new ArrayList<>(64);
      long outputBytes = 0;
      List<TensorBatch> shards = batch.split(64);
      try {
        for (TensorBatch shard : shards) {
          ArrowBuf out = child.buffer(ShardCodec.encodedSize(shard));
          outputs.add(out);
          ShardCodec.encodeInto(shard, out);
          outputBytes += out.getReferenceManager().getAccountedSize();
        }
      } finally {
        shards.forEach(TensorBatch::close);
      }
      extra.extraBytes = Math.max(extra.extraBytes, child.getPeakMemoryAllocation() - outputBytes);
      outputs.forEach(ArrowBuf::close);
      return outputBytes;
    }
  }

  @Benchmark
  public long encodeWhole() {
    try (BufferAllocator child = root.newChildAllocator("whole", 0, Long.MAX_VALUE);
        ArrowBuf out = child.buffer(ShardCodec.encodedSize(batch))) {
      return ShardCodec.encodeInto(batch, out);
    }
  }
}
