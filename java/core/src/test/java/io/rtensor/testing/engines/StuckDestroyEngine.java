package io.rtensor.testing.engines;

import io.rtensor.engine.Engine;

/** An engine whose destroy never returns (it ignores interrupts), like a hung NCCL teardown. */
public class StuckDestroyEngine implements Engine {
  public StuckDestroyEngine() {}

  public String ping() {
    return "pong";
  }

  @Override
  public void destroy() {
    while (true) {
      try {
        Thread.sleep(60_000);
      } catch (InterruptedException ignored) {
        // Stuck on purpose.
      }
    }
  }
}
