package io.rtensor.transport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rtensor.handle.RTensor;
import io.rtensor.runtime.SessionSecret;
import io.rtensor.tensor.DType;
import io.rtensor.tensor.Shape;
import io.rtensor.tensor.Tensor;
import io.rtensor.testing.FlightWorkerProcess;
import io.rtensor.testing.PythonEnv;
import io.rtensor.testing.SeededShards;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.junit.jupiter.api.Test;

/** Flight workers in child JVMs: fetches across workers, memory of the controller, pyarrow. */
class FlightWorkersTest {
  private static final String SECRET = SessionSecret.generate().value();

  @Test
  void oneLocalizationFetchesFromTwoWorkersAndGroupsByLocation() throws Exception {
    try (FlightWorkerProcess w1 = FlightWorkerProcess.start(SECRET);
        FlightWorkerProcess w2 = FlightWorkerProcess.start(SECRET);
        RootAllocator root = new RootAllocator();
        FlightDataPlane to1 =
            FlightDataPlane.builder(root, SECRET).putTarget(w1.address()).build();
        FlightDataPlane to2 =
            FlightDataPlane.builder(root, SECRET)
                .putTarget(w2.address())
                .shardsPerRequest(3)
                .build()) {
      BufferAllocator allocator = root.newChildAllocator("test", 0, Long.MAX_VALUE);
      List<Tensor> tensors = new ArrayList<>();
      List<Object> handles = new ArrayList<>();
      for (int i = 0; i < 20; i++) {
        Tensor t = Tensor.of(allocator, new int[] {i, i * 2, i * 3});
        tensors.add(t);
        handles.add(Remotizer.remotize(t, i % 2 == 0 ? to1 : to2));
      }
      Map<String, List<String>> shards = Remotizer.collectShards(handles);
      assertEquals(List.of(w1.address(), w2.address()), List.copyOf(shards.keySet()));
      assertEquals(10, shards.get(w1.address()).size());
      try (FetchCache cache = new FetchCache(1 << 20)) {
        Remotizer controller = new Remotizer(to2, cache, allocator);
        List<?> local = (List<?>) controller.localize(handles);
        for (int i = 0; i < 20; i++) {
          try (Tensor t = (Tensor) local.get(i)) {
            assertTrue(t.contentEquals(tensors.get(i)), "tensor " + i);
          }
        }
        assertEquals(1, to1.stats(w1.address()).entries() / 10);
        controller.clearAll(handles);
        assertEquals(0, to1.stats(w1.address()).entries());
        assertEquals(0, to2.stats(w2.address()).entries());
        assertEquals(0, cache.stats().entries());
      }
      tensors.forEach(Tensor::close);
      allocator.close();
    }
  }

  /** 1 GiB in 64 MiB shards: the controller's Arrow memory stays near the live data. */
  @Test
  void localizingOneGibibyteKeepsTheControllerNearTheLiveDataAndClearingFreesIt() throws Exception {
    int shards = 16;
    long shardBytes = 64L << 20;
    try (FlightWorkerProcess worker =
            FlightWorkerProcess.start(
                SECRET,
                "--seed-shards",
                Integer.toString(shards),
                "--shard-bytes",
                Long.toString(shardBytes));
        RootAllocator root = new RootAllocator();
        FlightDataPlane plane =
            FlightDataPlane.builder(root, SECRET).putTarget(worker.address()).build();
        FetchCache cache = new FetchCache(2L << 30)) {
      BufferAllocator controller = root.newChildAllocator("controller", 0, Long.MAX_VALUE);
      List<Object> handles = new ArrayList<>();
      for (int i = 0; i < shards; i++) {
        handles.add(
            RTensor.fromJson(
                "{\"shardId\":\"seed-"
                    + i
                    + "\",\"location\":\""
                    + worker.address()
                    + "\",\"kind\":\"TENSOR\",\"dtype\":\"float32\",\"shape\":["
                    + shardBytes / 4
                    + "],\"byteSize\":"
                    + shardBytes
                    + ",\"columns\":[\"tensor\"]}"));
      }
      Remotizer r = new Remotizer(plane, cache, controller);
      long start = System.nanoTime();
      List<?> local = (List<?>) r.localize(handles);
      System.out.printf(
          "[memory] localized %d x %d MiB in %.2f s%n",
          shards, shardBytes >> 20, (System.nanoTime() - start) / 1e9);
      List<?> again = (List<?>) r.localize(handles);
      long live = shards * shardBytes;
      long peak = root.getPeakMemoryAllocation();
      assertTrue(
          peak < 1.1 * live,
          "peak Arrow allocation " + peak + " < 1.1 x live " + live + " (no duplicate copies)");
      assertEquals(live, cache.stats().bytes());
      Tensor first = (Tensor) local.get(0);
      assertEquals(Shape.of(shardBytes / 4), first.shape());
      assertEquals(DType.FLOAT32, first.dtype());
      start = System.nanoTime();
      SeededShards.assertEachHoldsItsSeed(local);
      SeededShards.assertEachHoldsItsSeed(again);
      System.out.printf(
          "[memory] checked every byte of both localizations in %.2f s%n",
          (System.nanoTime() - start) / 1e9);
      local.forEach(t -> ((Tensor) t).close());
      again.forEach(t -> ((Tensor) t).close());
      r.clear(worker.address(), Remotizer.collectShards(handles).get(worker.address()));
      assertEquals(0, controller.getAllocatedMemory(), "clearing returns the controller to zero");
      assertEquals(0, plane.stats(worker.address()).entries());
      controller.close();
    }
  }

  @Test
  void pyarrowFlightClientAfterTheHandshakeFetchesAShardFromAJavaWorker() throws Exception {
    Path script = Path.of(FlightWorkersTest.class.getResource("/python/flight_fetch.py").toURI());
    PythonEnv.python();
    try (FlightWorkerProcess worker = FlightWorkerProcess.start(SECRET);
        RootAllocator root = new RootAllocator();
        FlightDataPlane plane =
            FlightDataPlane.builder(root, SECRET).putTarget(worker.address()).build()) {
      int n = 1000;
      float[] values = new float[n];
      for (int i = 0; i < n; i++) {
        values[i] = i * 0.25f;
      }
      RTensor h;
      try (Tensor t = Tensor.of(root, values)) {
        h = (RTensor) Remotizer.remotize(t, plane);
      }
      // With the session secret, and with only the data-plane key derived from it.
      String dataKey =
          HexFormat.of().formatHex(SessionSecret.of(SECRET).key(SessionSecret.DATA_PLANE));
      for (Map<String, String> env :
          List.of(Map.of(SessionSecret.ENV, SECRET), Map.of("RTENSOR_DATA_PLANE_KEY", dataKey))) {
        PythonEnv.Result result =
            PythonEnv.run(script, env, 120, worker.address(), h.shardId(), Integer.toString(n));
        assertEquals(0, result.exitCode(), result.output());
        assertTrue(result.output().contains("OK 1000 values"), result.output());
      }
    }
  }
}
