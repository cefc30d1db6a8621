package io.rtensor.transport.ray;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ray.api.ActorHandle;
import io.ray.api.ObjectRef;
import io.ray.api.Ray;
import io.ray.api.function.PyFunction;
import io.rtensor.handle.RTensor;
import io.rtensor.tensor.Tensor;
import io.rtensor.tensor.TensorBatch;
import io.rtensor.testing.RayTestCluster;
import io.rtensor.testing.SeededShards;
import io.rtensor.testing.ShardActor;
import io.rtensor.transport.MissingShardsException;
import io.rtensor.transport.Remotizer;
import java.util.ArrayList;
import java.util.List;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** Shards through Ray's object store between actors in separate worker JVMs, and with Python. */
@Tag("ray")
class RayDataPlaneTest {
  private static ActorHandle<ShardActor> producer;
  private static ActorHandle<ShardActor> consumer;

  @BeforeAll
  static void startActors() {
    RayTestCluster.connect();
    producer = Ray.actor(ShardActor::new).remote();
    consumer = Ray.actor(ShardActor::new).remote();
  }

  @AfterAll
  static void stopActors() {
    if (producer != null) {
      producer.kill();
    }
    if (consumer != null) {
      consumer.kill();
    }
  }

  @Test
  void aConsumerActorLocalizesShardsAProducerActorPut() {
    long producerPid = producer.task(ShardActor::pid).remote().get(60_000);
    long consumerPid = consumer.task(ShardActor::pid).remote().get(60_000);
    assertNotEquals(producerPid, consumerPid, "two worker JVMs");
    assertNotEquals(ProcessHandle.current().pid(), producerPid);

    List<Object> handles = producer.task(ShardActor::produce, 3, 100).remote().get(60_000);
    assertEquals(3, handles.size());
    RTensor first = (RTensor) handles.get(0);
    assertEquals(RTensor.Kind.TENSOR, first.kind());
    assertTrue(first.location().objectRef() != null, "the handle carries its ObjectRef");

    // sum over k of (k * 1000 * 100 + 0 + ... + 99)
    double expected = (0 + 1000 + 2000) * 100.0 + 3 * 4950.0;
    assertEquals(expected, consumer.task(ShardActor::consume, handles).remote().get(60_000));
    assertEquals(3, (int) consumer.task(ShardActor::cacheEntries).remote().get(60_000));
    assertEquals(expected, consumer.task(ShardActor::consume, handles).remote().get(60_000));
    assertEquals(3, (int) consumer.task(ShardActor::cacheEntries).remote().get(60_000));

    // The owner frees; each consumer drains its cache through its clear call.
    assertEquals(3L, (long) producer.task(ShardActor::clear, handles).remote().get(60_000));
    List<String> ids = handles.stream().map(h -> ((RTensor) h).shardId()).toList();
    assertEquals(3, (int) consumer.task(ShardActor::evict, ids).remote().get(60_000));
    assertEquals(0, (int) consumer.task(ShardActor::cacheEntries).remote().get(60_000));
    assertEquals(0L, (long) consumer.task(ShardActor::allocated).remote().get(60_000));
  }

  @Test
  void workerPlanesUseTheCoreWorkerPathOnTheProjectsRay() {
    assertEquals("CORE_WORKER", producer.task(ShardActor::access).remote().get(60_000));
    assertEquals("CORE_WORKER", consumer.task(ShardActor::access).remote().get(60_000));
  }

  @Test
  void shardsCrossBetweenTheCoreWorkerPathAndRaysJavaApi() {
    ActorHandle<ShardActor> javaApi = Ray.actor(ShardActor::new, "JAVA_API").remote();
    try {
      assertEquals("JAVA_API", javaApi.task(ShardActor::access).remote().get(60_000));
      double expected = (0 + 1000) * 100.0 + 2 * 4950.0;
      // Ray.put objects, localized in place; then objects created in place, read by Ray.get.
      List<Object> put = javaApi.task(ShardActor::produce, 2, 100).remote().get(60_000);
      assertEquals(expected, consumer.task(ShardActor::consume, put).remote().get(60_000));
      List<Object> created = producer.task(ShardActor::produce, 2, 100).remote().get(60_000);
      assertEquals(expected, javaApi.task(ShardActor::consume, created).remote().get(60_000));
      assertEquals(2L, (long) javaApi.task(ShardActor::clear, put).remote().get(60_000));
      assertEquals(2L, (long) producer.task(ShardActor::clear, created).remote().get(60_000));
      List<String> consumed = put.stream().map(ShardActor::idOf).toList();
      assertEquals(2, (int) consumer.task(ShardActor::evict, consumed).remote().get(60_000));
    } finally {
      javaApi.kill();
    }
  }

  @Test
  void localizing1GiBIn64MiBShardsKeepsTheDriversArrowMemoryUnder1_1xTheLiveData() {
    int shards = 16;
    long shardBytes = 64L << 20;
    List<Object> handles = new ArrayList<>();
    for (int i = 0; i < shards; i++) {
      handles.addAll(
          producer.task(ShardActor::produceBytes, shardBytes, (long) i).remote().get(120_000));
    }
    try (RootAllocator root = new RootAllocator();
        RayObjectStorePlane plane = new RayObjectStorePlane()) {
      BufferAllocator controller = root.newChildAllocator("controller", 0, Long.MAX_VALUE);
      Remotizer r = new Remotizer(plane, null, controller);
      List<?> local = (List<?>) r.localize(handles);
      long live = shards * shardBytes;
      assertEquals(live, local.stream().mapToLong(t -> ((Tensor) t).byteSize()).sum());
      long peak = root.getPeakMemoryAllocation();
      assertTrue(
          peak < 1.1 * live,
          "peak Arrow allocation " + peak + " < 1.1 x live " + live + " (no duplicate copies)");
      SeededShards.assertEachHoldsItsSeed(local);
      local.forEach(t -> ((Tensor) t).close());
      assertEquals(0, controller.getAllocatedMemory(), "closing returns the driver to zero");
      controller.close();
    } finally {
      producer.task(ShardActor::clear, handles).remote().get(120_000);
    }
  }

  @Test
  void aPythonTaskReadsAShardAJavaActorPut() {
    List<Object> handles = producer.task(ShardActor::produce, 1, 1000).remote().get(60_000);
    RTensor h = (RTensor) handles.get(0);
    ObjectRef<String> described =
        Ray.task(
                PyFunction.of("rtensor_interop", "describe_shard", String.class),
                h.location().objectRef())
            .remote();
    assertEquals("float32 1000 499500.0", described.get(120_000));
    producer.task(ShardActor::clear, handles).remote().get(60_000);
  }

  @Test
  void javaLocalizesArrowIpcBytesAPythonProducerStored() {
    ObjectRef<byte[]> ref =
        Ray.task(PyFunction.of("rtensor_interop", "produce_shard", byte[].class), 1000).remote();
    try (RootAllocator root = new RootAllocator();
        RayObjectStorePlane plane = new RayObjectStorePlane()) {
      RTensor handle;
      try (Tensor like = Tensor.of(root, new long[1000]);
          TensorBatch description = TensorBatch.of(RTensor.TENSOR_COLUMN, like.share())) {
        handle = RayObjectStorePlane.handleOf(ref, description);
      }
      Remotizer r = new Remotizer(plane, null, root);
      try (TensorBatch batch = (TensorBatch) r.localize(handle)) {
        long[] values = batch.tensor(RTensor.TENSOR_COLUMN).toLongArray();
        assertEquals(1000, values.length);
        assertEquals(999, values[999]);
        assertEquals(499500, java.util.Arrays.stream(values).sum());
      }
      assertEquals(1, plane.clear(List.of(handle)).get(handle.location().key()).cleared());
      assertThrows(
          MissingShardsException.class, () -> new Remotizer(plane, null, root).localize(handle));
    }
  }
}
