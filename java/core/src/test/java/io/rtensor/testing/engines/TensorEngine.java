package io.rtensor.testing.engines;

import io.rtensor.engine.Engine;
import io.rtensor.engine.EngineContext;
import io.rtensor.tensor.Shape;
import io.rtensor.tensor.Tensor;
import io.rtensor.tensor.TensorBatch;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;

/**
 * A test engine that produces trajectory-like batches (returned as shards, so the controller gets
 * handles) and reduces the batches it is handed (which arrive localized).
 */
public class TensorEngine implements Engine {
  private BufferAllocator allocator;

  public TensorEngine() {}

  @Override
  public void initialize(EngineContext context) {
    allocator = new RootAllocator();
  }

  @Override
  public void destroy() {
    allocator.close();
  }

  /** tokens int64 [rows, 4] = row * 10 + col; rewards float32 [rows] = row / 2. */
  public long pid() {
    return ProcessHandle.current().pid();
  }

  public TensorBatch produce(int rows) {
    long[] tokens = new long[rows * 4];
    float[] rewards = new float[rows];
    for (int r = 0; r < rows; r++) {
      for (int c = 0; c < 4; c++) {
        tokens[r * 4 + c] = r * 10L + c;
      }
      rewards[r] = r / 2f;
    }
    Map<String, Tensor> columns = new LinkedHashMap<>();
    columns.put("tokens", Tensor.of(allocator, tokens, Shape.of(rows, 4)));
    columns.put("rewards", Tensor.of(allocator, rewards));
    return TensorBatch.of(columns);
  }

  /** A nested result: the batch split in {@code parts} pieces, plus a plain tensor and a label. */
  public Map<String, Object> produceNested(int rows, int parts) {
    try (TensorBatch whole = produce(rows)) {
      Map<String, Object> out = new LinkedHashMap<>();
      out.put("pieces", whole.split(parts));
      out.put("ids", Tensor.of(allocator, new int[] {7, 8, 9}));
      out.put("label", "nested");
      return out;
    }
  }

  /** The sum of the tokens column of a batch. */
  public long sumTokens(TensorBatch batch) {
    long sum = 0;
    for (long v : batch.tensor("tokens").toLongArray()) {
      sum += v;
    }
    return sum;
  }

  /** Total rows and the sum of every piece's tokens. */
  public long sumPieces(List<TensorBatch> pieces) {
    long sum = 0;
    for (TensorBatch piece : pieces) {
      sum += sumTokens(piece);
    }
    return sum;
  }

  /** The sum of an int32 tensor. */
  public long sumInts(Tensor tensor) {
    long sum = 0;
    for (int v : tensor.toIntArray()) {
      sum += v;
    }
    return sum;
  }
}
