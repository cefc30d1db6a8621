package io.rtensor.jmh;

import io.rtensor.engine.Engine;

/** An engine whose method does nothing: what a call costs beyond the transport. */
public class NoopEngine implements Engine {
  public NoopEngine() {}

  public int noop() {
    return 0;
  }
}
