package io.rtensor.transport;

import io.rtensor.auth.SessionTls;
import io.rtensor.device.arrow.PinnedBufferAllocator;
import io.rtensor.runtime.SessionSecret;
import java.io.IOException;
import java.util.Objects;
import org.apache.arrow.memory.BufferAllocator;

/**
 * Everything a worker process needs for the data plane, opened and closed together: for Flight, its
 * {@link FlightShardServer} and a {@link FlightDataPlane} that puts there; for Ray, the object
 * store plane; and the {@link DataPlaneValueTransport} its engine host uses.
 */
public final class WorkerDataPlane implements AutoCloseable {
  private final FlightShardServer server;
  private final DataPlane plane;
  private final DataPlaneValueTransport transport;

  private WorkerDataPlane(
      FlightShardServer server, DataPlane plane, BufferAllocator allocator, long cacheCapBytes) {
    this.server = server;
    this.plane = plane;
    this.transport = new DataPlaneValueTransport(plane, allocator, cacheCapBytes);
  }

  /**
   * A Flight worker: a server on {@code host} (ephemeral port) storing at most {@code
   * storeCapBytes} bytes, guarded by the session {@code secret} (from {@link
   * SessionSecret#fromEnvironment()} in a worker), and a fetch cache of {@code cacheCapBytes}. Its
   * fetches wait as {@link DataPlaneDeadlines#fromEnvironment()} says (the defaults unless the
   * worker's environment, for example its job's, sets them).
   */
  public static WorkerDataPlane flight(
      BufferAllocator allocator, String secret, String host, long storeCapBytes, long cacheCapBytes)
      throws IOException {
    return flight(
        allocator,
        secret,
        host,
        storeCapBytes,
        cacheCapBytes,
        DataPlaneDeadlines.fromEnvironment());
  }

  /**
   * As {@link #flight(BufferAllocator, String, String, long, long)}, with its fetches' {@code
   * deadlines}.
   */
  public static WorkerDataPlane flight(
      BufferAllocator allocator,
      String secret,
      String host,
      long storeCapBytes,
      long cacheCapBytes,
      DataPlaneDeadlines deadlines)
      throws IOException {
    return flight(allocator, secret, null, host, storeCapBytes, cacheCapBytes, deadlines);
  }

  /**
   * As {@link #flight(BufferAllocator, String, String, long, long, DataPlaneDeadlines)}, over TLS
   * with the session's identity {@code tls} (from {@link SessionTls#fromEnvironment()} in a local
   * worker; null: plaintext): the server presents its certificate and the plane's clients trust
   * only it. Where {@code allocator}'s root is page-locked ({@link PinnedBufferAllocator}, a worker
   * with a device), the store keeps its shards there rather than in shared segments, and fetched
   * shards land in its buffers too ({@link FlightDataPlane.Builder#receiveInAllocator()}).
   */
  public static WorkerDataPlane flight(
      BufferAllocator allocator,
      String secret,
      SessionTls tls,
      String host,
      long storeCapBytes,
      long cacheCapBytes,
      DataPlaneDeadlines deadlines)
      throws IOException {
    boolean pageLocked =
        allocator.getRoot() instanceof PinnedBufferAllocator pinned && pinned.pageLocked();
    // A worker with a device keeps its shards in page-locked memory, where its device-to-host
    // DMAs land, not in shared segments (which are pageable): processes on its node then fetch them
    // over a socket. Registering the segments with the device runtime would give both.
    FlightShardServer server =
        FlightShardServer.builder(allocator, secret)
            .host(host)
            .capBytes(storeCapBytes)
            .tls(tls)
            .sameNode(!pageLocked)
            .start();
    try {
      FlightDataPlane.Builder plane =
          FlightDataPlane.builder(allocator, secret)
              .localServer(server)
              .deadlines(deadlines)
              .tls(tls);
      if (pageLocked) {
        // The store a device tensor is copied into and the cache it is copied from are then both
        // page-locked: direct DMA targets.
        plane.receiveInAllocator();
      }
      return new WorkerDataPlane(server, plane.build(), allocator, cacheCapBytes);
    } catch (RuntimeException e) {
      server.close();
      throw e;
    }
  }

  /**
   * A worker whose shards go to {@code plane} (for example Ray's object store plane, from the
   * rtensor-ray module), with a fetch cache of {@code cacheCapBytes}. The worker plane owns {@code
   * plane} and closes it.
   */
  public static WorkerDataPlane of(DataPlane plane, BufferAllocator allocator, long cacheCapBytes) {
    return new WorkerDataPlane(
        null, Objects.requireNonNull(plane, "plane"), allocator, cacheCapBytes);
  }

  /** The plane (puts go to this worker's store). */
  public DataPlane plane() {
    return plane;
  }

  /** The value transport for this worker's {@link io.rtensor.host.EngineHost}. */
  public DataPlaneValueTransport transport() {
    return transport;
  }

  /** This worker's Flight data address ({@code host:port}), or null on the Ray object store. */
  public String dataAddress() {
    return server == null ? null : server.address();
  }

  @Override
  public void close() {
    transport.close();
    plane.close();
    if (server != null) {
      server.close();
    }
  }
}
