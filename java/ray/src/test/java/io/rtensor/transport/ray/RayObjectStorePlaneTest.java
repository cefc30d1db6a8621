package io.rtensor.transport.ray;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ray.api.ObjectRef;
import io.ray.api.Ray;
import io.rtensor.handle.RTensor;
import io.rtensor.tensor.ReadOnlyTensorException;
import io.rtensor.tensor.Tensor;
import io.rtensor.tensor.TensorBatch;
import io.rtensor.testing.RayTestCluster;
import io.rtensor.transport.DataPlane;
import io.rtensor.transport.DataPlaneContract;
import io.rtensor.transport.DataPlaneException;
import io.rtensor.transport.MissingShardsException;
import io.rtensor.wire.DecodeLimits;
import java.util.List;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The data plane contract against Ray's object store on the project's real Ray head, with the plane
 * as it is by default: the core worker path.
 */
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

  @Test
  void theDefaultPlaneUsesTheCoreWorkerPathOnTheProjectsRay() {
    assertEquals(
        RayObjectStorePlane.ObjectAccess.CORE_WORKER,
        plane.access(),
        () -> "fell back to Ray's Java API: " + RayCoreObjects.unavailableReason());
  }

  @Test
  void eachPathReadsTheShardsTheOtherPut() {
    try (RayObjectStorePlane javaApi =
            new RayObjectStorePlane(
                DecodeLimits.DEFAULT, 60_000, RayObjectStorePlane.ObjectAccess.JAVA_API);
        Tensor t = Tensor.of(root, new float[] {1.5f, -2f, 3.25f});
        TensorBatch batch = TensorBatch.of("x", t.share())) {
      RTensor byJavaApi = javaApi.put(batch);
      RTensor inPlace = plane.put(batch);
      try (TensorBatch a = plane.fetch(List.of(byJavaApi), root).get(byJavaApi.shardId());
          TensorBatch b = javaApi.fetch(List.of(inPlace), root).get(inPlace.shardId())) {
        assertArrayEquals(t.toFloatArray(), a.tensor("x").toFloatArray());
        assertArrayEquals(t.toFloatArray(), b.tensor("x").toFloatArray());
      }
      javaApi.clear(List.of(byJavaApi));
      plane.clear(List.of(inPlace));
    }
  }

  @Test
  void aReadOnlyFetchMapsTheObjectAndHoldsItPastAClearUntilClosed() {
    int n = 1 << 20; // 4 MiB: a large object, which a copying fetch would put in a pooled block
    float[] values = new float[n];
    for (int i = 0; i < n; i++) {
      values[i] = i * 0.5f - 7f;
    }
    try (Tensor t = Tensor.of(root, values);
        TensorBatch batch = TensorBatch.of("x", t.share())) {
      RTensor h = plane.put(batch);
      TensorBatch mapped = plane.fetchReadOnly(List.of(h), root).get(h.shardId());
      try (TensorBatch again = plane.fetchReadOnly(List.of(h), root).get(h.shardId());
          TensorBatch copied = plane.fetch(List.of(h), root).get(h.shardId())) {
        Tensor x = mapped.tensor("x");
        assertTrue(x.isReadOnly());
        assertThrows(ReadOnlyTensorException.class, x::buffer);
        assertEquals(
            x.memoryAddress(),
            again.tensor("x").memoryAddress(),
            "both read-only fetches read the one mapping of the object, not copies of it");
        assertNotEquals(x.memoryAddress(), copied.tensor("x").memoryAddress());
        assertFalse(copied.isReadOnly(), "the default fetch is a writable copy");
      }
      plane.clear(List.of(h));
      assertThrows(MissingShardsException.class, () -> plane.fetch(List.of(h), root));
      // Freed for everyone else, the object stays readable while a mapped tensor holds it.
      assertArrayEquals(values, mapped.tensor("x").toFloatArray());
      mapped.close();
    }
    assertEquals(0, root.getAllocatedMemory(), "closing the tensors released the object");
  }

  @Test
  void aFailedWriteLeavesNoObjectBehindAndTheNextPutWorks() {
    IllegalStateException thrown =
        assertThrows(
            IllegalStateException.class,
            () ->
                RayCoreObjects.put(
                    4096,
                    memory -> {
                      throw new IllegalStateException("writer failed");
                    }));
    assertEquals("writer failed", thrown.getMessage());
    try (Tensor t = Tensor.of(root, new float[] {7f});
        TensorBatch batch = TensorBatch.of("x", t.share())) {
      RTensor h = plane.put(batch);
      try (TensorBatch back = plane.fetch(List.of(h), root).get(h.shardId())) {
        assertArrayEquals(new float[] {7f}, back.tensor("x").toFloatArray());
      }
      plane.clear(List.of(h));
    }
  }

  @Test
  void anObjectThatIsNotRawBytesIsRefusedAsNotAShard() {
    ObjectRef<String> text = Ray.put("not a shard");
    @SuppressWarnings("unchecked")
    ObjectRef<byte[]> asBytes = (ObjectRef<byte[]>) (ObjectRef<?>) text;
    try (Tensor like = Tensor.of(root, new float[1]);
        TensorBatch description = TensorBatch.of("x", like.share())) {
      RTensor h = RayObjectStorePlane.handleOf(asBytes, description);
      DataPlaneException e =
          assertThrows(DataPlaneException.class, () -> plane.fetch(List.of(h), root));
      assertTrue(e.getMessage().contains("not a shard"), e.getMessage());
    }
    assertEquals(0, root.getAllocatedMemory());
  }

  @Test
  void aFreedObjectIsReportedMissingByTheCoreWorkerGet() {
    try (Tensor t = Tensor.of(root, new float[] {1f, 2f});
        TensorBatch batch = TensorBatch.of("x", t.share())) {
      RTensor h = plane.put(batch);
      @SuppressWarnings("unchecked")
      ObjectRef<byte[]> ref = (ObjectRef<byte[]>) h.location().objectRef();
      plane.clear(List.of(h));
      List<RayCoreObjects.Fetched> got = RayCoreObjects.get(List.of(ref), 5_000);
      try {
        assertTrue(got.get(0).isError(), "a freed object answers with Ray's error object");
        assertThrows(IllegalStateException.class, () -> got.get(0).address());
      } finally {
        got.forEach(RayCoreObjects.Fetched::close);
      }
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
