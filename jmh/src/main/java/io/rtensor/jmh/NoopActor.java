package io.rtensor.jmh;

/** A plain Ray actor with a no-op method: the raw Ray baseline. */
public class NoopActor {
  public NoopActor() {}

  public int noop() {
    return 0;
  }

  /** The method of a concurrency group (see {@code CallOverheadBenchmark}). */
  public int ping() {
    return 1;
  }
}
