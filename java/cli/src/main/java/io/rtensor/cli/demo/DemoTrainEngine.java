package io.rtensor.cli.demo;

import io.rtensor.device.Device;
import io.rtensor.engine.TrainEngine;
import io.rtensor.tensor.DeviceTensor;
import io.rtensor.tensor.Tensor;
import io.rtensor.tensor.TensorBatch;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The demo's training rank: receives its data-parallel pieces of every rollout batch (localized
 * from the rollout workers that hold them) and reduces each, so the controller can check that every
 * byte arrived. With devices, {@link #trainPiece} receives a piece's hidden states on this worker's
 * device.
 */
public class DemoTrainEngine extends DemoEngine implements TrainEngine {

  public DemoTrainEngine() {}

  /** The reductions of each piece, in order. */
  public List<Map<String, Object>> trainStep(List<TensorBatch> pieces) {
    List<Map<String, Object>> out = new ArrayList<>();
    for (TensorBatch piece : pieces) {
      out.add(Reductions.of(piece));
    }
    return out;
  }

  /**
   * The reductions of one piece and its hidden states, which arrive in this worker's device memory
   * (the parameter's type asks for them there). Their checksum is read from a copy back on the
   * host: the demo has no device kernels, and the copy reads exactly the bytes the device holds.
   *
   * @throws IllegalStateException if the hidden states are not on this worker's device
   */
  public Map<String, Object> trainPiece(TensorBatch piece, DeviceTensor hiddenStates) {
    Device mine = context.device();
    Device got = hiddenStates.device();
    if (mine == null || got.kind() != mine.kind() || got.index() != mine.index()) {
      throw new IllegalStateException(
          context.workerId() + " received its hidden states on " + got + ", not on " + mine);
    }
    try (Tensor states = hiddenStates.toHost(allocator)) {
      return Reductions.withHiddenStates(Reductions.of(piece), states);
    }
  }
}
