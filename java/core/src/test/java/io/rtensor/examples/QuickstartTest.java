package io.rtensor.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

import io.rtensor.engine.EngineContext;
import io.rtensor.engine.InferenceEngine;
import io.rtensor.engine.TrainEngine;
import io.rtensor.handle.RTensor;
import io.rtensor.host.WorkerMemory;
import io.rtensor.scheduler.CallOptions;
import io.rtensor.scheduler.EngineProxy;
import io.rtensor.scheduler.Job;
import io.rtensor.scheduler.SchedulingSpec;
import io.rtensor.scheduler.local.LocalScheduler;
import io.rtensor.tensor.Shape;
import io.rtensor.tensor.Tensor;
import io.rtensor.tensor.TensorBatch;
import java.util.List;
import java.util.Map;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.junit.jupiter.api.Test;

/** The README's quickstart, run as written: if this test breaks, so does the README. */
class QuickstartTest {

  /** A rollout engine: its batches leave the worker as RTensor handles. */
  public static class Rollout implements InferenceEngine {
    private BufferAllocator allocator;

    @Override
    public void initialize(EngineContext context) {
      allocator = new RootAllocator();
    }

    public TensorBatch generate(int batch, int seq) {
      long[] ids = new long[batch * seq];
      float[] rewards = new float[batch];
      for (int i = 0; i < ids.length; i++) {
        ids[i] = i % 50_000;
      }
      for (int b = 0; b < batch; b++) {
        rewards[b] = b / 10f;
      }
      return TensorBatch.of(
          Map.of(
              "input_ids", Tensor.of(allocator, ids, Shape.of(batch, seq)),
              "rewards", Tensor.of(allocator, rewards)));
    }

    @Override
    public void destroy() {
      allocator.close();
    }
  }

  /** A training engine: handles passed to it arrive as tensors, fetched from where they live. */
  public static class Trainer implements TrainEngine {
    public long trainStep(TensorBatch batch) {
      long sum = 0;
      for (long id : batch.tensor("input_ids").toLongArray()) {
        sum += id;
      }
      return sum;
    }
  }

  /** The typed view the controller uses for a trainer. */
  public interface TrainerApi {
    long trainStep(RTensor batch);
  }

  @Test
  void quickstartRunsAsWritten() throws Exception {
    // --8<-- [start:quickstart]
    try (LocalScheduler scheduler = LocalScheduler.builder().build()) {
      SchedulingSpec oneCpu = SchedulingSpec.builder().cpu(1).build();
      scheduler.createWorkers(Job.builder("rollout").replicas(1).task(oneCpu).build());
      scheduler.createWorkers(Job.builder("actor").replicas(2).task(oneCpu).build());
      scheduler.createEngine("rollout/0", Rollout.class.getName(), "gen");
      scheduler.createEngine("actor/0", Trainer.class.getName(), "train");
      scheduler.createEngine("actor/1", Trainer.class.getName(), "train");

      // The rollout worker keeps the batch; the controller gets a handle.
      RTensor batch =
          (RTensor) scheduler.callEngine("rollout/0", "generate", "gen", CallOptions.DEFAULT, 4, 8);

      // Handing the handle on: actor/0 fetches the bytes straight from rollout/0.
      long sum = (long) scheduler.callEngine("actor/0", "trainStep", "train", null, batch);

      // A typed proxy does the same call.
      TrainerApi trainer = EngineProxy.of(scheduler, "actor/1", "train", TrainerApi.class, null);
      long again = trainer.trainStep(batch);

      // The controller can fetch a shard itself (it owns what it gets) ...
      try (TensorBatch local = (TensorBatch) scheduler.dataPlane().localize(batch)) {
        System.out.println(local.tensor("input_ids").shape()); // [4, 8]
      }
      // ... and store its own tensors for the workers to fetch.
      Object prompts;
      try (BufferAllocator mine = new RootAllocator();
          TensorBatch made =
              TensorBatch.of("input_ids", Tensor.of(mine, new long[] {1, 2, 3}, Shape.of(1, 3)))) {
        prompts = scheduler.dataPlane().remotize(List.of(made));
      }
      long fromController =
          (long)
              scheduler.callEngine(
                  "actor/0", "trainStep", "train", null, ((List<?>) prompts).get(0));

      // Clearing removes the shards from their stores and every fetch cache.
      scheduler.clearShards(List.of(batch, prompts));
      WorkerMemory memory = scheduler.workerMemory("rollout/0");
      System.out.println(memory); // ... stored 0 shards / 0 bytes ...
      // --8<-- [end:quickstart]
      long expected = 0;
      for (int i = 0; i < 32; i++) {
        expected += i;
      }
      assertEquals(expected, sum);
      assertEquals(expected, again);
      assertEquals(6, fromController);
      assertEquals(0, memory.storedShards());
      assertInstanceOf(RTensor.class, batch);
    }
  }
}
