package io.rtensor.jmh;

/** A plain Ray actor with a no-op method: the raw Ray baseline. */
public class NoopActor {
  public NoopActor() {}

  public int noop() {
    return 0;
  }
}
