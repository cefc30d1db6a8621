package io.rtensor.cli.demo;

import io.rtensor.engine.EngineContext;
import io.rtensor.engine.InferenceEngine;
import io.rtensor.tensor.DType;
import io.rtensor.tensor.Shape;
import io.rtensor.tensor.Tensor;
import io.rtensor.tensor.TensorBatch;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;

/**
 * The demo's rollout instance: generates a batch of trajectories (token ids int64 [B, T], attention
 * mask bool [B, T], log-probs float32 [B, T], rewards float32 [B], and optionally bfloat16 hidden
 * states [B, T, H]), splits it by data-parallel rank without copying, and returns the pieces (they
 * leave as shard handles) with what each piece must reduce to.
 */
public class DemoRolloutEngine implements InferenceEngine {
  private BufferAllocator allocator;
  private int rank;

  public DemoRolloutEngine() {}

  @Override
  public void initialize(EngineContext context) {
    allocator = new RootAllocator();
    rank = context.rank();
  }

  @Override
  public void destroy() {
    allocator.close();
  }

  /**
   * One rollout step.
   *
   * @return {@code pieces}: one batch per training rank; {@code reports}: the reductions of each
   */
  public Map<String, Object> generate(int step, int batch, int seq, int hidden, int parts) {
    SplittableRandom random = new SplittableRandom(step * 1_000_003L + rank);
    int n = batch * seq;
    long[] ids = new long[n];
    boolean[] mask = new boolean[n];
    float[] logprobs = new float[n];
    float[] rewards = new float[batch];
    for (int b = 0; b < batch; b++) {
      int length = 1 + random.nextInt(seq);
      for (int t = 0; t < seq; t++) {
        int i = b * seq + t;
        ids[i] = random.nextInt(50_000);
        mask[i] = t < length;
        logprobs[i] = (float) -random.nextDouble(10);
      }
      rewards[b] = (float) random.nextDouble();
    }
    Map<String, Tensor> columns = new LinkedHashMap<>();
    columns.put("input_ids", Tensor.of(allocator, ids, Shape.of(batch, seq)));
    columns.put("attention_mask", Tensor.of(allocator, mask, Shape.of(batch, seq)));
    columns.put("logprobs", Tensor.of(allocator, logprobs, Shape.of(batch, seq)));
    columns.put("rewards", Tensor.of(allocator, rewards));
    if (hidden > 0) {
      short[] states = new short[n * hidden];
      for (int i = 0; i < states.length; i++) {
        // bfloat16 bit patterns of small floats: the high half of a float32.
        states[i] = (short) (Float.floatToRawIntBits((float) random.nextGaussian()) >>> 16);
      }
      columns.put(
          "hidden_states",
          Tensor.of(allocator, DType.BFLOAT16, states, Shape.of(batch, seq, hidden)));
    }
    try (TensorBatch whole = TensorBatch.of(columns)) {
      List<TensorBatch> pieces = whole.split(parts);
      List<Map<String, Object>> reports = new ArrayList<>();
      for (TensorBatch piece : pieces) {
        reports.add(Reductions.of(piece));
      }
      Map<String, Object> out = new LinkedHashMap<>();
      out.put("pieces", pieces);
      out.put("reports", reports);
      return out;
    }
  }
}
