package io.rtensor.transport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rtensor.engine.Engine;
import io.rtensor.handle.RTensor;
import io.rtensor.host.CallResult;
import io.rtensor.host.EngineHost;
import io.rtensor.runtime.SessionSecret;
import io.rtensor.tensor.Tensor;
import java.util.List;
import org.apache.arrow.memory.BufferAllocator;
import org.junit.jupiter.api.Test;

/** An engine host on a Flight worker: handles in, localized tensors to the engine, handles out. */
class DataPlaneValueTransportTest {

  /** Sums a tensor and returns it scaled. */
  public static class ScaleEngine implements Engine {
    private BufferAllocator allocator;

    public ScaleEngine() {}

    public double sum(Tensor t) {
      double s = 0;
      for (float f : t.toFloatArray()) {
        s += f;
      }
      return s;
    }

    public Tensor scale(Tensor t, double factor) {
      float[] v = t.toFloatArray();
      for (int i = 0; i < v.length; i++) {
        v[i] *= (float) factor;
      }
      if (allocator == null) {
        allocator = t.allocator().getRoot().newChildAllocator("engine", 0, Long.MAX_VALUE);
      }
      return Tensor.of(allocator, v); // handed over: the host stores and closes it
    }

    @Override
    public void destroy() {
      if (allocator != null) {
        allocator.close();
      }
    }
  }

  @Test
  void engineCallsReceiveLocalTensorsAndReturnHandles() throws Exception {
    String secret = SessionSecret.generate().value();
    try (BufferAllocator root = FlightShardServerMain.newRootAllocator();
        WorkerDataPlane worker =
            WorkerDataPlane.flight(root, secret, "127.0.0.1", 1 << 26, 1 << 26);
        FlightDataPlane controller =
            FlightDataPlane.builder(root, secret).putTarget(worker.dataAddress()).build();
        EngineHost host =
            new EngineHost("train/0", worker.transport(), getClass().getClassLoader())) {
      assertTrue(host.createEngine(ScaleEngine.class.getName(), "scale", new Object[0]).ok());
      BufferAllocator mine = root.newChildAllocator("controller", 0, Long.MAX_VALUE);
      RTensor input;
      try (Tensor t = Tensor.of(mine, new float[] {1, 2, 3})) {
        input = (RTensor) Remotizer.remotize(t, controller);
      }
      CallResult sum = host.call("scale", "sum", new Object[] {input});
      assertEquals(6.0, sum.value(), sum.toString());
      assertEquals(1, worker.transport().cache().stats().entries(), "the worker cached the input");

      CallResult scaled = host.call("scale", "scale", new Object[] {input, 2.0});
      RTensor out = assertInstanceOf(RTensor.class, scaled.value(), scaled.toString());
      assertEquals(worker.dataAddress(), out.location().key(), "results live on the worker");
      try (FetchCache cache = new FetchCache(1 << 20)) {
        Remotizer r = new Remotizer(controller, cache, mine);
        try (Tensor back = (Tensor) r.localize(out)) {
          assertEquals(
              List.of(2f, 4f, 6f),
              List.of(back.toFloatArray()[0], back.toFloatArray()[1], back.toFloatArray()[2]));
        }
        r.clearAll(List.of(input, out));
      }
      assertEquals(0, worker.transport().cache().stats().entries(), "the owner's cache drained");
      assertEquals(0, worker.plane().stats(worker.dataAddress()).entries());
      host.destroyAll();
      mine.close();
    }
  }
}
