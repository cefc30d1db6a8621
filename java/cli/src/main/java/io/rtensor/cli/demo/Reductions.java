package io.rtensor.cli.demo;

import io.rtensor.device.NativeHost;
import io.rtensor.tensor.Tensor;
import io.rtensor.tensor.TensorBatch;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What the rollout side reports and the training side recomputes for each piece of a batch: rows,
 * bytes, a checksum of every column's bytes (computed in C++), the token-id sum, the count of
 * attention-mask ones and the reward sum; with hidden states that travel as a device tensor of
 * their own, their dtype and shape, and their bytes and checksum as well. Equal maps mean the bytes
 * arrived intact.
 */
final class Reductions {
  /** The hidden states' column, and its name in a report. */
  static final String HIDDEN_STATES = "hidden_states";

  private Reductions() {}

  /**
   * {@code report} (of a piece) with the hidden states that go with the piece: their dtype and
   * shape, and their bytes and checksum (read from {@code states}, host memory) added in.
   */
  static Map<String, Object> withHiddenStates(Map<String, Object> report, Tensor states) {
    report.put(HIDDEN_STATES, states.dtype() + "" + states.shape());
    report.put("checksum:" + HIDDEN_STATES, checksum(states));
    report.put("bytes", (Long) report.get("bytes") + states.byteSize());
    return report;
  }

  private static long checksum(Tensor t) {
    return t.byteSize() == 0
        ? NativeHost.checksum(0, 0)
        : NativeHost.checksum(t.memoryAddress(), t.byteSize());
  }

  static Map<String, Object> of(TensorBatch piece) {
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("rows", piece.rows());
    long bytes = 0;
    for (Map.Entry<String, Tensor> e : piece.tensors().entrySet()) {
      Tensor t = e.getValue();
      bytes += t.byteSize();
      out.put("checksum:" + e.getKey(), checksum(t));
    }
    out.put("bytes", bytes);
    long tokenSum = 0;
    for (long v : piece.tensor("input_ids").toLongArray()) {
      tokenSum += v;
    }
    out.put("token_sum", tokenSum);
    long maskOnes = 0;
    for (boolean b : piece.tensor("attention_mask").toBooleanArray()) {
      maskOnes += b ? 1 : 0;
    }
    out.put("mask_ones", maskOnes);
    double rewards = 0;
    for (float r : piece.tensor("rewards").toFloatArray()) {
      rewards += r;
    }
    out.put("reward_sum", rewards);
    return out;
  }
}
