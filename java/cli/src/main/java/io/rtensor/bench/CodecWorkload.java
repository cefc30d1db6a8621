package io.rtensor.bench;

import io.rtensor.tensor.DType;
import io.rtensor.tensor.Shape;
import io.rtensor.tensor.Tensor;
import io.rtensor.tensor.TensorBatch;
import io.rtensor.wire.ShardCodec;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.memory.util.MemoryUtil;

/**
 * The Arrow shard codec on one float32 shard: encoding to {@code byte[]} and decoding back into
 * Arrow memory ({@link #encodeDecode}), against the baseline of two plain copies of the same bytes
 * (Arrow memory to a new {@code byte[]} and back into new Arrow memory, {@link #twoPlainCopies}).
 * The claim: encode + decode takes at most 1.25x the time of the copies (throughput at least 0.8x).
 */
public final class CodecWorkload implements AutoCloseable {
  /** Throughput of {@link #encodeDecode} over {@link #twoPlainCopies} the project aims for. */
  public static final double GOAL = 0.8;

  private final BufferAllocator allocator;
  private final Tensor tensor;
  private final TensorBatch batch;
  private final byte[] encoded;

  /** A {@code rows x cols} float32 shard, every page touched. */
  public CodecWorkload(long rows, long cols) {
    allocator = new RootAllocator();
    tensor = Tensor.allocate(allocator, DType.FLOAT32, Shape.of(rows, cols));
    ArrowBuf b = tensor.buffer();
    for (long i = 0; i < b.capacity(); i += 4096) {
      b.setFloat(i, i); // touch every page so the first copy does not pay the page faults
    }
    batch = TensorBatch.of("x", tensor.share());
    encoded = ShardCodec.encode(batch);
  }

  /** A shard of about {@code bytes} bytes (rows of 64 KiB; at least one row). */
  public static CodecWorkload ofBytes(long bytes) {
    long cols = 16 * 1024; // 64 KiB rows
    return new CodecWorkload(Math.max(1, bytes / (cols * 4)), cols);
  }

  /** The tensor's bytes. */
  public long bytes() {
    return tensor.byteSize();
  }

  /** The shard codec: encode to a byte[], decode back into Arrow memory. */
  public long encodeDecode() {
    byte[] bytes = ShardCodec.encode(batch);
    try (TensorBatch back = ShardCodec.decode(bytes, allocator)) {
      return back.tensor("x").byteSize() + bytes.length;
    }
  }

  /** Breakdown: encoding alone. */
  public int encodeOnly() {
    return ShardCodec.encode(batch).length;
  }

  /** Breakdown: decoding alone, from a shard encoded once in setup. */
  public long decodeOnly() {
    try (TensorBatch back = ShardCodec.decode(encoded, allocator)) {
      return back.tensor("x").byteSize();
    }
  }

  /** Breakdown of the baseline: Arrow memory to a new byte[]. */
  public int copyOut() {
    ArrowBuf src = tensor.buffer();
    byte[] bytes = new byte[(int) src.capacity()];
    MemoryUtil.copyFromMemory(src.memoryAddress(), bytes, 0, bytes.length);
    return bytes.length;
  }

  /** Breakdown of the baseline: a byte[] into new Arrow memory. */
  public long copyIn() {
    try (ArrowBuf dst = allocator.buffer(encoded.length)) {
      MemoryUtil.copyToMemory(encoded, 0, dst.memoryAddress(), encoded.length);
      return dst.capacity();
    }
  }

  /** Baseline: the same bytes copied to a new byte[] and into new Arrow memory, nothing else. */
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

  @Override
  public void close() {
    batch.close();
    tensor.close();
    allocator.close();
  }
}
