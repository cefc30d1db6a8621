package io.rtensor.cli.demo;

import io.rtensor.device.Device;
import io.rtensor.engine.InferenceEngine;
import io.rtensor.engine.KeepOnDevice;
import io.rtensor.tensor.DType;
import io.rtensor.tensor.DeviceTensor;
import io.rtensor.tensor.Shape;
import io.rtensor.tensor.Tensor;
import io.rtensor.tensor.TensorBatch;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * The demo's rollout instance: generates a batch of trajectories (token ids int64 [B, T], attention
 * mask bool [B, T], log-probs float32 [B, T], rewards float32 [B], and optionally bfloat16 hidden
 * states [B, T, H]), splits it by data-parallel rank without copying, and returns the pieces (they
 * leave as shard handles) with what each piece must reduce to. On a worker with a device, {@link
 * #generateOnDevice} keeps the hidden states in device memory and returns them as device tensors.
 */
public class DemoRolloutEngine extends DemoEngine implements InferenceEngine {

  public DemoRolloutEngine() {}

  /**
   * One rollout step.
   *
   * @return {@code pieces}: one batch per training rank; {@code reports}: the reductions of each
   */
  public Map<String, Object> generate(int step, int batch, int seq, int hidden, int parts) {
    SplittableRandom random = random(step);
    Map<String, Tensor> columns = trajectories(random, batch, seq);
    if (hidden > 0) {
      columns.put(Reductions.HIDDEN_STATES, hiddenStates(random, batch, seq, hidden));
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

  /**
   * One rollout step on the worker's device: the hidden states [B, T, H] are made in device memory
   * (as a model's forward pass leaves them) and split into one device tensor per training rank,
   * rows matching the pieces'; the worker stores each with one device-to-host copy into its shard
   * memory.
   *
   * @return {@code pieces}: one host batch per training rank (the other columns); {@code hidden}:
   *     one device tensor per rank; {@code reports}: what each piece and its hidden states reduce
   *     to
   * @throws IllegalStateException if the worker holds no device
   */
  public Map<String, Object> generateOnDevice(int step, int batch, int seq, int hidden, int parts) {
    Device device = context.device();
    if (device == null) {
      throw new IllegalStateException(
          context.workerId()
              + " has no device to keep its hidden states on: its job was given none, or no"
              + " CUDA or Ascend runtime loads in its process (its log says which)");
    }
    SplittableRandom random = random(step);
    List<TensorBatch> pieces = new ArrayList<>();
    List<DeviceTensor> onDevice = new ArrayList<>();
    try (TensorBatch whole = TensorBatch.of(trajectories(random, batch, seq));
        Tensor host = hiddenStates(random, batch, seq, hidden);
        DeviceTensor states = DeviceTensor.copyOf(device, host)) {
      pieces.addAll(whole.split(parts));
      List<Map<String, Object>> reports = new ArrayList<>();
      long row = 0;
      for (TensorBatch piece : pieces) {
        long end = row + piece.rows();
        onDevice.add(states.sliceRows(row, end));
        try (Tensor sent = host.sliceRows(row, end)) {
          reports.add(Reductions.withHiddenStates(Reductions.of(piece), sent));
        }
        row = end;
      }
      Map<String, Object> out = new LinkedHashMap<>();
      out.put("pieces", pieces);
      out.put("hidden", onDevice);
      out.put("reports", reports);
      return out;
    } catch (RuntimeException e) {
      pieces.forEach(TensorBatch::close);
      onDevice.forEach(DeviceTensor::close);
      throw e;
    }
  }

  /**
   * {@link #generateOnDevice}, the hidden states kept in the worker's device memory until they are
   * cleared: training workers of this machine receive them device to device by CUDA IPC.
   */
  @KeepOnDevice
  public Map<String, Object> generateKeptOnDevice(
      int step, int batch, int seq, int hidden, int parts) {
    return generateOnDevice(step, batch, seq, hidden, parts);
  }

  private SplittableRandom random(int step) {
    return new SplittableRandom(step * 1_000_003L + context.rank());
  }

  /** Token ids, attention mask, log-probs and rewards of {@code batch} trajectories. */
  private Map<String, Tensor> trajectories(SplittableRandom random, int batch, int seq) {
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
    return columns;
  }

  /** Hidden states bfloat16 [B, T, H] on the host. */
  private Tensor hiddenStates(SplittableRandom random, int batch, int seq, int hidden) {
    short[] states = new short[batch * seq * hidden];
    for (int i = 0; i < states.length; i++) {
      // bfloat16 bit patterns of small floats: the high half of a float32.
      states[i] = (short) (Float.floatToRawIntBits((float) random.nextGaussian()) >>> 16);
    }
    return Tensor.of(allocator, DType.BFLOAT16, states, Shape.of(batch, seq, hidden));
  }
}
