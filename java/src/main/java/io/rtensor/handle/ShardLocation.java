package io.rtensor.handle;

import io.ray.api.ObjectRef;
import java.io.Serializable;
import java.util.Objects;

/**
 * Where one shard lives: a worker's Flight data address ({@code host:port}), or an object in Ray's
 * object store (the {@link ObjectRef} itself, so that Ray's ownership and borrowing protocol
 * follows the handle from process to process).
 *
 * <p>A plain class rather than a record: Ray's Java serializer (FST) sets fields reflectively,
 * which the JDK forbids for a record's final fields.
 */
public final class ShardLocation implements Serializable {
  private static final long serialVersionUID = 1L;

  /** The grouping key of every shard in Ray's object store: one {@code Ray.get} fetches them. */
  public static final String RAY_OBJECT_STORE = "ray-object-store";

  /** Which data plane holds the shard. */
  public enum Plane {
    FLIGHT,
    RAY_OBJECT_STORE
  }

  private Plane plane;
  private String address;
  private ObjectRef<byte[]> objectRef;

  /** For serializers. */
  ShardLocation() {}

  private ShardLocation(Plane plane, String address, ObjectRef<byte[]> objectRef) {
    this.plane = plane;
    this.address = address;
    this.objectRef = objectRef;
  }

  /** A shard served by the Flight server at {@code host:port}. */
  public static ShardLocation flight(String hostPort) {
    Objects.requireNonNull(hostPort, "hostPort");
    int colon = hostPort.lastIndexOf(':');
    if (colon <= 0 || colon == hostPort.length() - 1) {
      throw new IllegalArgumentException("a Flight address is host:port, got '" + hostPort + "'");
    }
    return new ShardLocation(Plane.FLIGHT, hostPort, null);
  }

  /** A shard stored as one object in Ray's object store. */
  public static ShardLocation rayObject(ObjectRef<byte[]> ref) {
    return new ShardLocation(Plane.RAY_OBJECT_STORE, RAY_OBJECT_STORE, Objects.requireNonNull(ref));
  }

  /** The data plane holding the shard. */
  public Plane plane() {
    return plane;
  }

  /**
   * The grouping key: the Flight server's {@code host:port}, or {@link #RAY_OBJECT_STORE}. Shards
   * with one key are fetched together.
   */
  public String key() {
    return address;
  }

  /** The object reference of a Ray shard, or null for a Flight shard. */
  public ObjectRef<byte[]> objectRef() {
    return objectRef;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof ShardLocation l
        && plane == l.plane
        && Objects.equals(address, l.address)
        && objectRef == l.objectRef;
  }

  @Override
  public int hashCode() {
    return Objects.hash(plane, address);
  }

  @Override
  public String toString() {
    return plane == Plane.FLIGHT ? "flight://" + address : "ray-object";
  }
}
