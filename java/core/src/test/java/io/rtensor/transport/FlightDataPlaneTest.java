package io.rtensor.transport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rtensor.handle.RTensor;
import io.rtensor.runtime.SessionSecret;
import io.rtensor.tensor.Tensor;
import io.rtensor.tensor.TensorBatch;
import io.rtensor.testing.FlightWorkerProcess;
import java.io.IOException;
import java.util.List;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The data plane contract against a Flight server in a child JVM. */
class FlightDataPlaneTest extends DataPlaneContract {
  private static final String SECRET = SessionSecret.generate().value();
  private static FlightWorkerProcess worker;
  private static RootAllocator root;
  private static FlightDataPlane plane;

  @BeforeAll
  static void startWorker() throws IOException {
    worker = FlightWorkerProcess.start(SECRET);
    root = new RootAllocator();
    plane =
        FlightDataPlane.builder(root, SECRET)
            .putTarget(worker.address())
            .shardsPerRequest(8)
            .build();
  }

  @AfterAll
  static void stopWorker() throws IOException {
    if (plane != null) {
      plane.close();
    }
    if (root != null) {
      root.close();
    }
    if (worker != null) {
      worker.close();
    }
  }

  @Test
  void aRepeatedLargeFetchLandsInTheSameKeptBlockWithItsBytesIntact() {
    Remotizer r = remotizer(1 << 20);
    try (Tensor t = floats(1 << 20, 3)) {
      RTensor h = (RTensor) remotize(r, t);
      long reusedBefore = plane.blockPool().reusedBlocks();
      long address = 0;
      for (int i = 0; i < 3; i++) {
        try (TensorBatch b = plane.fetch(List.of(h), allocator).get(h.shardId())) {
          Tensor back = b.tensor(RTensor.TENSOR_COLUMN);
          assertTrue(back.contentEquals(t), "fetch " + i + " returns the stored values");
          if (i > 0) {
            assertEquals(
                address, back.buffer().memoryAddress(), "fetch " + i + " reused the block");
          }
          address = back.buffer().memoryAddress();
        }
      }
      assertEquals(reusedBefore + 2, plane.blockPool().reusedBlocks());
      assertTrue(plane.blockPool().idleBytes() >= 4 << 20, "the block is kept after the last one");
      assertEquals(0, allocator.getAllocatedMemory() - t.byteSize(), "only the source is open");
    }
  }

  @Override
  protected DataPlane plane() {
    return plane;
  }

  @Override
  protected BufferAllocator root() {
    return root;
  }
}
