package io.rtensor.testing.engines;

/** A class that does not implement Engine. */
public class NotAnEngine {
  public NotAnEngine() {}
}
