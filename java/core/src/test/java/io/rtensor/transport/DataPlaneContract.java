package io.rtensor.transport;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rtensor.handle.RTensor;
import io.rtensor.tensor.DType;
import io.rtensor.tensor.ReadOnlyTensorException;
import io.rtensor.tensor.Shape;
import io.rtensor.tensor.Tensor;
import io.rtensor.tensor.TensorBatch;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.apache.arrow.memory.BufferAllocator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The behaviour every {@link DataPlane} shares. A subclass provides the plane shards are put
 * through and the allocator tree; each test gets a fresh allocator, which must be empty at its end.
 */
public abstract class DataPlaneContract {
  protected BufferAllocator allocator;
  private final List<Remotizer> remotizers = new ArrayList<>();
  private final List<Object> stored = new ArrayList<>();

  /** The plane under test. */
  protected abstract DataPlane plane();

  /** The root this test's allocators are children of. */
  protected abstract BufferAllocator root();

  @BeforeEach
  void openAllocator() {
    allocator = root().newChildAllocator("contract-test", 0, Long.MAX_VALUE);
  }

  @AfterEach
  void closeEverything() {
    for (Object value : stored) {
      Remotizer.collectShards(value).forEach((location, ids) -> plane().clear(location, ids));
    }
    remotizers.forEach(r -> r.cache().close());
    allocator.close(); // throws, failing the test, if anything leaked
  }

  protected Remotizer remotizer(long cacheCap) {
    Remotizer r = new Remotizer(plane(), new FetchCache(cacheCap), allocator);
    remotizers.add(r);
    return r;
  }

  protected Object remotize(Remotizer r, Object value) {
    Object handles = r.remotize(value);
    stored.add(handles);
    return handles;
  }

  protected Tensor floats(int n, float base) {
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      v[i] = base + i * 0.5f;
    }
    return Tensor.of(allocator, v);
  }

  @Test
  void singleTensorRoundTripsThroughAHandle() {
    Remotizer r = remotizer(1 << 20);
    try (Tensor t = Tensor.of(allocator, new long[] {1, 2, 3, 4, 5, 6}, Shape.of(2, 3))) {
      RTensor h = (RTensor) remotize(r, t);
      assertEquals(RTensor.Kind.TENSOR, h.kind());
      assertEquals(DType.INT64, h.dtype());
      assertEquals(Shape.of(2, 3), h.shape());
      assertEquals(48, h.byteSize());
      try (Tensor back = (Tensor) r.localize(h)) {
        assertTrue(back.contentEquals(t), "values survive the round trip");
        assertEquals(Shape.of(2, 3), back.shape());
      }
    }
  }

  @Test
  void nestedStructuresKeepTheirShapeAndOtherLeaves() {
    Remotizer r = remotizer(1 << 20);
    try (Tensor a = floats(10, 1);
        Tensor b = floats(3, 7);
        Tensor c = Tensor.of(allocator, new int[] {9, 8});
        TensorBatch batch = TensorBatch.of(Map.of("x", floats(4, 2), "y", floats(4, 3)))) {
      Map<String, Object> value = new LinkedHashMap<>();
      value.put("list", Arrays.asList(a, "text", null, 42));
      value.put("array", new Tensor[] {b, c});
      value.put("batch", batch);
      value.put("nothing", null);
      value.put("nested", Map.of("deep", List.of(List.of(c))));
      @SuppressWarnings("unchecked")
      Map<String, Object> handles = (Map<String, Object>) remotize(r, value);
      List<?> list = (List<?>) handles.get("list");
      assertInstanceOf(RTensor.class, list.get(0));
      assertEquals("text", list.get(1));
      assertNull(list.get(2));
      assertEquals(42, list.get(3));
      assertInstanceOf(RTensor[].class, handles.get("array"));
      assertEquals(RTensor.Kind.BATCH, ((RTensor) handles.get("batch")).kind());
      assertTrue(handles.containsKey("nothing"));
      assertEquals(5, Remotizer.collectHandles(handles).size());

      @SuppressWarnings("unchecked")
      Map<String, Object> local = (Map<String, Object>) r.localize(handles);
      try {
        List<?> l = (List<?>) local.get("list");
        assertTrue(((Tensor) l.get(0)).contentEquals(a));
        assertEquals(Arrays.asList("text", null, 42), l.subList(1, 4));
        Tensor[] arr = (Tensor[]) local.get("array");
        assertTrue(arr[0].contentEquals(b));
        assertTrue(arr[1].contentEquals(c));
        TensorBatch lb = (TensorBatch) local.get("batch");
        assertEquals(List.of("x", "y"), List.copyOf(lb.names()).stream().sorted().toList());
        assertTrue(lb.tensor("x").contentEquals(batch.tensor("x")));
        assertTrue(lb.tensor("y").contentEquals(batch.tensor("y")));
        assertNull(local.get("nothing"));
      } finally {
        closeAll(local);
      }
    }
  }

  @Test
  void batchFetchOfManyShardsReturnsEachOnceAndCollectShardsGroupsThem() {
    Remotizer r = remotizer(64 << 20);
    List<Tensor> tensors = new ArrayList<>();
    try {
      for (int i = 0; i < 40; i++) {
        tensors.add(floats(100 + i, i));
      }
      List<?> handles = (List<?>) remotize(r, tensors);
      Map<String, List<String>> shards = Remotizer.collectShards(handles);
      assertEquals(40, shards.values().stream().mapToInt(List::size).sum());
      List<?> local = (List<?>) r.localize(handles);
      try {
        for (int i = 0; i < 40; i++) {
          assertTrue(((Tensor) local.get(i)).contentEquals(tensors.get(i)), "tensor " + i);
        }
        assertEquals(40, r.cache().stats().entries());
      } finally {
        closeAll(local);
      }
    } finally {
      tensors.forEach(Tensor::close);
    }
  }

  @Test
  void missingShardsErrorListsExactlyTheMissingIds() {
    Remotizer r = remotizer(1 << 20);
    try (Tensor a = floats(5, 1);
        Tensor b = floats(5, 2);
        Tensor c = floats(5, 3)) {
      List<?> handles = (List<?>) remotize(r, List.of(a, b, c));
      RTensor ha = (RTensor) handles.get(0);
      RTensor hc = (RTensor) handles.get(2);
      r.clear(ha.location().key(), List.of(ha.shardId()));
      r.clear(hc.location().key(), List.of(hc.shardId()));
      MissingShardsException e =
          assertThrows(MissingShardsException.class, () -> r.localize(handles));
      assertEquals(List.of(ha.shardId(), hc.shardId()).stream().sorted().toList(), e.missingIds());
      assertEquals(0, r.cache().stats().entries(), "a failed localization caches nothing");
    }
  }

  @Test
  void clearRemovesShardsAndStatsCountThem() {
    Remotizer r = remotizer(1 << 20);
    try (Tensor a = floats(1000, 1);
        Tensor b = floats(1000, 2)) {
      List<?> handles = (List<?>) remotize(r, List.of(a, b));
      String location = ((RTensor) handles.get(0)).location().key();
      StoreStats before = plane().stats(location);
      assertTrue(before.entries() >= 2, "stats count the stored shards: " + before);
      assertTrue(before.bytes() >= 8000, "stats count their bytes: " + before);
      List<String> ids = Remotizer.collectShards(handles).get(location);
      ClearResult cleared = r.clear(location, ids);
      assertEquals(2, cleared.cleared());
      assertEquals(before.entries() - 2, cleared.after().entries());
      assertEquals(before.entries() - 2, plane().stats(location).entries());
      assertEquals(0, r.clear(location, ids).cleared(), "a second clear finds nothing");
    }
  }

  @Test
  void largeShardsOfOneSizePutBackToBackKeepTheirOwnBytes() throws Exception {
    // A plane may reuse the staging memory of one put for the next put of the same size.
    Remotizer r = remotizer(256 << 20);
    int n = 1 << 19; // 2 MiB of float32
    List<Tensor> tensors = new ArrayList<>();
    try {
      for (int i = 0; i < 3; i++) {
        tensors.add(floats(n, i * 1000));
      }
      tensors.add(floats(n + 1, 7)); // another size between them
      tensors.add(floats(n, 9000));
      Object handles = remotize(r, tensors);
      List<?> local = (List<?>) r.localize(handles);
      try {
        for (int i = 0; i < tensors.size(); i++) {
          assertTrue(((Tensor) local.get(i)).contentEquals(tensors.get(i)), "shard " + i);
        }
      } finally {
        closeAll(local);
      }
    } finally {
      tensors.forEach(Tensor::close);
    }
    ExecutorService pool = Executors.newFixedThreadPool(4);
    try {
      List<Future<Boolean>> results = new ArrayList<>();
      for (int thread = 0; thread < 4; thread++) {
        int seed = thread;
        results.add(
            pool.submit(
                () -> {
                  for (int round = 0; round < 2; round++) {
                    try (Tensor t = floats(n, seed * 100 + round)) {
                      Object h = r.remotize(t);
                      try (Tensor back = (Tensor) r.localize(h)) {
                        if (!back.contentEquals(t)) {
                          return false;
                        }
                      } finally {
                        r.clearAll(h);
                      }
                    }
                  }
                  return true;
                }));
      }
      for (Future<Boolean> f : results) {
        assertTrue(f.get());
      }
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void eightThreadsRemotizeAndLocalizeAtOnce() throws Exception {
    Remotizer r = remotizer(256 << 20);
    ExecutorService pool = Executors.newFixedThreadPool(8);
    try {
      List<Future<Boolean>> results = new ArrayList<>();
      for (int thread = 0; thread < 8; thread++) {
        int seed = thread;
        results.add(
            pool.submit(
                () -> {
                  for (int round = 0; round < 5; round++) {
                    try (Tensor t = floats(2000 + seed, seed * 100 + round)) {
                      Object h = remotize(r, List.of(t, t));
                      List<?> local = (List<?>) r.localize(h);
                      try {
                        if (!((Tensor) local.get(0)).contentEquals(t)
                            || !((Tensor) local.get(1)).contentEquals(t)) {
                          return false;
                        }
                      } finally {
                        closeAll(local);
                      }
                    }
                  }
                  return true;
                }));
      }
      for (Future<Boolean> f : results) {
        assertTrue(f.get());
      }
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void repeatedLocalizationHitsTheCacheAndClearDrainsIt() {
    Remotizer r = remotizer(1 << 20);
    try (Tensor a = floats(256, 1)) {
      RTensor h = (RTensor) remotize(r, a);
      try (Tensor first = (Tensor) r.localize(h);
          Tensor second = (Tensor) r.localize(h)) {
        assertTrue(second.contentEquals(a));
        assertEquals(
            first.buffer().memoryAddress(),
            second.buffer().memoryAddress(),
            "a cache hit shares the cached memory");
        FetchCache.Stats s = r.cache().stats();
        assertEquals(1, s.entries());
        assertEquals(1024, s.bytes());
        assertEquals(1, s.hits());
      }
      Remotizer other = remotizer(1 << 20); // another process's view: its own cache
      ((Tensor) other.localize(h)).close();
      assertEquals(1, other.cache().stats().entries());
      r.clear(h.location().key(), List.of(h.shardId()));
      assertEquals(0, r.cache().stats().entries(), "the clearing process drains its cache");
      assertEquals(0, r.cache().stats().bytes());
      other.cache().evict(List.of(h.shardId())); // what the clear call on a consumer does
      assertEquals(0, other.cache().stats().entries());
      assertThrows(MissingShardsException.class, () -> other.localize(h));
    }
  }

  @Test
  void cacheCapRefusesAFetchWithAClearErrorAndKeepsWhatItHas() {
    Remotizer r = remotizer(6000);
    try (Tensor a = floats(1000, 1);
        Tensor b = floats(1000, 2)) {
      List<?> handles = (List<?>) remotize(r, List.of(a, b));
      ((Tensor) r.localize(handles.get(0))).close();
      FetchCacheFullException e =
          assertThrows(FetchCacheFullException.class, () -> r.localize(handles.get(1)));
      assertEquals(6000, e.capBytes());
      assertEquals(4000, e.cachedBytes());
      assertEquals(4000, e.requestedBytes());
      assertTrue(e.getMessage().contains("clear"), e.getMessage());
      assertEquals(1, r.cache().stats().entries(), "the cached shard stays");
      try (Tensor again = (Tensor) r.localize(handles.get(0))) {
        assertTrue(again.contentEquals(a));
      }
    }
  }

  @Test
  void readOnlyLocalizationGivesReadOnlyTensorsThatMatchAndLeaveTheShardStored() {
    Remotizer r = remotizer(1 << 20);
    try (Tensor a = floats(1000, 1);
        TensorBatch b = TensorBatch.of(Map.of("x", floats(4, 2), "y", floats(4, 3)))) {
      List<?> handles = (List<?>) remotize(r, List.of(a, b));
      List<?> local = (List<?>) r.localizeReadOnly(handles);
      try {
        Tensor t = (Tensor) local.get(0);
        TensorBatch batch = (TensorBatch) local.get(1);
        assertTrue(t.isReadOnly() && batch.isReadOnly());
        assertTrue(t.contentEquals(a));
        assertTrue(batch.tensor("y").contentEquals(b.tensor("y")));
        assertThrows(ReadOnlyTensorException.class, t::buffer);
        assertThrows(ReadOnlyTensorException.class, () -> batch.tensor("x").buffer());
        // A writable localization of the same (now cached) shard is the caller's to write.
        try (Tensor writable = (Tensor) r.localize(handles.get(0))) {
          assertFalse(writable.isReadOnly());
          writable.buffer().setFloat(0, -1f);
          assertEquals(1.0, t.getDoubleAt(0), "writing it leaves the read-only tensor alone");
        }
      } finally {
        closeAll(local);
      }
      // Without a cache: straight from the plane, where the shards stay stored.
      Remotizer direct = new Remotizer(plane(), null, allocator);
      List<?> again = (List<?>) direct.localizeReadOnly(handles);
      try {
        assertTrue(((Tensor) again.get(0)).isReadOnly());
        assertTrue(((Tensor) again.get(0)).contentEquals(a));
      } finally {
        closeAll(again);
      }
    }
  }

  @Test
  void remotizeLeavesValuesWithoutTensorsAlone() {
    Remotizer r = remotizer(1 << 20);
    assertNull(r.remotize(null));
    assertEquals("x", r.remotize("x"));
    Object[] plain = {1, "a"};
    Object[] out = (Object[]) r.localize(plain);
    assertArrayEquals(plain, out);
    int[] primitive = {1, 2};
    assertSame(primitive, r.remotize(primitive));
  }

  protected static void closeAll(Object value) {
    if (value instanceof AutoCloseable c) {
      try {
        c.close();
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    } else if (value instanceof Map<?, ?> m) {
      m.values().forEach(DataPlaneContract::closeAll);
    } else if (value instanceof List<?> l) {
      l.forEach(DataPlaneContract::closeAll);
    } else if (value instanceof Object[] a) {
      Arrays.asList(a).forEach(DataPlaneContract::closeAll);
    }
  }
}
