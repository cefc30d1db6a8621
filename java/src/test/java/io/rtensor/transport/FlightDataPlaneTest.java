package io.rtensor.transport;

import io.rtensor.runtime.SessionSecret;
import io.rtensor.testing.FlightWorkerProcess;
import java.io.IOException;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

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

  @Override
  protected DataPlane plane() {
    return plane;
  }

  @Override
  protected BufferAllocator root() {
    return root;
  }
}
