package io.rtensor.transport;

import io.rtensor.testing.RayTestCluster;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;

/** The data plane contract against Ray's object store on the project's real Ray head. */
@Tag("ray")
class RayObjectStorePlaneTest extends DataPlaneContract {
  private static RootAllocator root;
  private static RayObjectStorePlane plane;

  @BeforeAll
  static void connect() {
    RayTestCluster.connect();
    root = new RootAllocator();
    plane = new RayObjectStorePlane();
  }

  @AfterAll
  static void close() {
    if (plane != null) {
      plane.close();
    }
    if (root != null) {
      root.close();
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
