package io.rtensor.transport.ray;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.rtensor.testing.RayTestCluster;
import io.rtensor.transport.DataPlane;
import io.rtensor.transport.DataPlaneContract;
import io.rtensor.wire.DecodeLimits;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The data plane contract against Ray's object store with the plane on Ray's Java API ({@code
 * Ray.put} and {@code Ray.get}): the path taken where the core worker path is not available.
 */
@Tag("ray")
class RayObjectStorePlaneJavaApiTest extends DataPlaneContract {
  private static RootAllocator root;
  private static RayObjectStorePlane plane;

  @BeforeAll
  static void connect() {
    RayTestCluster.connect();
    root = new RootAllocator();
    plane =
        new RayObjectStorePlane(
            DecodeLimits.DEFAULT, 300_000, RayObjectStorePlane.ObjectAccess.JAVA_API);
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

  @Test
  void thePlaneUsesRaysJavaApi() {
    assertEquals(RayObjectStorePlane.ObjectAccess.JAVA_API, plane.access());
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
