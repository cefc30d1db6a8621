package io.rtensor.handle;

import io.rtensor.runtime.HostPort;
import java.io.Serializable;
import java.util.Objects;

/**
 * Where one shard lives: a worker's Flight data address ({@code host:port}), or an object in Ray's
 * object store (Ray's {@code ObjectRef} itself, so that Ray's ownership and borrowing protocol
 * follows the handle from process to process; held as an {@code Object} so that this package needs
 * no Ray on its class path).
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
  private Object objectRef;

  /** For serializers. */
  ShardLocation() {}

  private ShardLocation(Plane plane, String address, Object objectRef) {
    this.plane = plane;
    this.address = address;
    this.objectRef = objectRef;
  }

  /** A shard served by the Flight server at {@code host:port}. */
  public static ShardLocation flight(String hostPort) {
    Objects.requireNonNull(hostPort, "hostPort");
    HostPort.parse(hostPort); // refuses what is not host:port or [ipv6]:port
    return new ShardLocation(Plane.FLIGHT, hostPort, null);
  }

  /** A shard stored as one object in Ray's object store; {@code ref} is its {@code ObjectRef}. */
  public static ShardLocation rayObject(Object ref) {
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

  /** The {@code ObjectRef} of a Ray shard, or null for a Flight shard. */
  public Object objectRef() {
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
