package io.rtensor.testing.engines;

import io.rtensor.engine.Engine;

/** An engine whose constructor throws. */
public class ThrowingEngine implements Engine {
  public ThrowingEngine() {
    throw new IllegalArgumentException("constructor refuses: no model weights at /nowhere");
  }
}
