package io.rtensor.scheduler.core;

import io.rtensor.auth.SessionTls;
import io.rtensor.transport.DataPlane;
import io.rtensor.transport.FetchCache;
import io.rtensor.transport.FlightDataPlane;
import io.rtensor.transport.FlightShardServer;
import io.rtensor.transport.Remotizer;
import java.io.IOException;
import java.io.UncheckedIOException;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;

/**
 * The controller's side of the data plane, owned by a scheduler: its allocator, the plane (with,
 * for Flight, the controller's own shard store, so what it remotizes is served to the workers), the
 * fetch cache and the {@link Remotizer} over them. Closing it closes all of them.
 */
public final class ControllerData implements AutoCloseable {
  private final BufferAllocator allocator;
  private final FlightShardServer server;
  private final DataPlane plane;
  private final FetchCache cache;
  private final Remotizer remotizer;

  private ControllerData(
      BufferAllocator allocator, FlightShardServer server, DataPlane plane, long cacheCapBytes) {
    this.allocator = allocator;
    this.server = server;
    this.plane = plane;
    this.cache = new FetchCache(cacheCapBytes);
    this.remotizer = new Remotizer(plane, cache, allocator);
  }

  /** Flight: a shard store on {@code host} holding at most {@code storeCapBytes}. */
  public static ControllerData flight(
      String secret, String host, long storeCapBytes, long cacheCapBytes) {
    return flight(secret, null, host, storeCapBytes, cacheCapBytes);
  }

  /**
   * As {@link #flight(String, String, long, long)}, over TLS with the session's identity {@code
   * tls} (null: plaintext) for the controller's store and its connections to the workers.
   */
  public static ControllerData flight(
      String secret, SessionTls tls, String host, long storeCapBytes, long cacheCapBytes) {
    BufferAllocator allocator = new RootAllocator();
    FlightShardServer server;
    try {
      server =
          FlightShardServer.builder(allocator, secret)
              .host(host)
              .capBytes(storeCapBytes)
              .tls(tls)
              .start();
    } catch (IOException e) {
      allocator.close();
      throw new UncheckedIOException("cannot start the controller's Flight shard store", e);
    }
    FlightDataPlane plane =
        FlightDataPlane.builder(allocator, secret).localServer(server).tls(tls).build();
    return new ControllerData(allocator, server, plane, cacheCapBytes);
  }

  /** Another plane (Ray's object store), which this object then owns. */
  public static ControllerData of(DataPlane plane, long cacheCapBytes) {
    return new ControllerData(new RootAllocator(), null, plane, cacheCapBytes);
  }

  /** Remotize and localize on the controller. */
  public Remotizer remotizer() {
    return remotizer;
  }

  /** The controller's allocator (for control clients and the like). */
  public BufferAllocator allocator() {
    return allocator;
  }

  @Override
  public void close() {
    cache.close();
    plane.close();
    if (server != null) {
      server.close();
    }
    allocator.close();
  }
}
