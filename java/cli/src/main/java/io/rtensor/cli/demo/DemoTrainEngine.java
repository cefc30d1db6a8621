package io.rtensor.cli.demo;

import io.rtensor.engine.TrainEngine;
import io.rtensor.tensor.TensorBatch;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The demo's training rank: receives its data-parallel pieces of every rollout batch (localized
 * from the rollout workers that hold them) and reduces each, so the controller can check that every
 * byte arrived.
 */
public class DemoTrainEngine implements TrainEngine {
  public DemoTrainEngine() {}

  /** The reductions of each piece, in order. */
  public List<Map<String, Object>> trainStep(List<TensorBatch> pieces) {
    List<Map<String, Object>> out = new ArrayList<>();
    for (TensorBatch piece : pieces) {
      out.add(Reductions.of(piece));
    }
    return out;
  }
}
