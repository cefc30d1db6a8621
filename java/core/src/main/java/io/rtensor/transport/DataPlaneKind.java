package io.rtensor.transport;

/**
 * The data planes, and which one a scheduler uses unless told otherwise: the Ray scheduler uses
 * Ray's object store, the local scheduler uses Flight. The choice is made per scheduler instance
 * and passed to whatever needs it.
 */
public enum DataPlaneKind {
  /** Each worker runs an Arrow Flight server holding its shards. */
  FLIGHT,
  /** Shards are {@code RAW} objects in Ray's object store. */
  RAY_OBJECT_STORE;

  /** The default of the Ray scheduler. */
  public static DataPlaneKind defaultForRay() {
    return RAY_OBJECT_STORE;
  }

  /** The default (and only choice) of the local scheduler. */
  public static DataPlaneKind defaultForLocal() {
    return FLIGHT;
  }
}
