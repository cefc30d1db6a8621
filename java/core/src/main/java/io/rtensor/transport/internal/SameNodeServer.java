package io.rtensor.transport.internal;

import io.rtensor.auth.StreamAuth;
import io.rtensor.ipc.SharedMemoryException;
import io.rtensor.ipc.UnixSocket;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.arrow.memory.ArrowBuf;

/**
 * Serves a shard store's shared-memory segments ({@link SharedShardMemory}) to processes of the
 * same node over a Unix socket ({@link SameNodeWire}): a fetch gets a read-only descriptor of each
 * shard's segment, not its bytes.
 *
 * <p>Who gets a descriptor: the socket lives in a directory of its own, mode 0700, under a name of
 * 128 random bits, and is itself mode 0600; a connecting process must run as this process's user
 * (the kernel's {@code SO_PEERCRED}) and then prove it holds the session's data-plane key ({@link
 * StreamAuth}, which proves this server's too) before any request is read. The socket's path is
 * handed out by the Flight action {@link SameNodeWire#ACTION}, to callers the Flight session
 * already admitted.
 *
 * <p>A descriptor holds the segment's memory even past a clear of the shard: the clear frees the
 * store's own mapping and descriptor, and the memory goes when the last process that mapped it
 * unmaps it or dies. Serving reads the store and never changes it, so a failed fetch loses nothing.
 */
public final class SameNodeServer implements AutoCloseable {
  private static final org.slf4j.Logger LOG =
      org.slf4j.LoggerFactory.getLogger(SameNodeServer.class);

  /** Deadline of each send and receive on a connection; an idle connection is closed after it. */
  static final int IO_TIMEOUT_MILLIS = 30_000;

  private final ShardStore store;
  private final SharedShardMemory memory;
  private final byte[] key;
  private final String identity;
  private final Path directory;
  private final Path path;
  private final UnixSocket listener;
  private final ExecutorService handlers;
  private final Set<UnixSocket> connections = ConcurrentHashMap.newKeySet();
  private final Thread acceptor;
  private volatile boolean closed;

  private SameNodeServer(
      ShardStore store, SharedShardMemory memory, byte[] key, String flightAddress, Path directory)
      throws IOException {
    this.store = store;
    this.memory = memory;
    this.key = key.clone();
    this.directory = directory;
    byte[] name = new byte[16];
    new SecureRandom().nextBytes(name);
    this.path = directory.resolve(HexFormat.of().formatHex(name) + ".sock");
    this.identity = SameNodeWire.identity(flightAddress, path.toString());
    try {
      this.listener = UnixSocket.listen(path);
    } catch (SharedMemoryException e) {
      throw new IOException("cannot listen at " + path + ": " + e.getMessage(), e);
    }
    AtomicInteger n = new AtomicInteger();
    this.handlers =
        Executors.newCachedThreadPool(
            r -> {
              Thread t = new Thread(r, "same-node-" + n.incrementAndGet());
              t.setDaemon(true);
              return t;
            });
    this.acceptor = new Thread(this::acceptLoop, "same-node-accept " + flightAddress);
    acceptor.setDaemon(true);
    acceptor.start();
  }

  /** A store and the server of its segments (null where this system offers none). */
  public record Started(ShardStore store, SameNodeServer server) {}

  /**
   * A shard store at {@code flightAddress} whose large shards live in shared memory, and the server
   * that hands them to this node's processes of the session {@code secret}. Where the system has no
   * memfd or Unix sockets, a plain store and no server.
   */
  public static Started startStore(
      String flightAddress,
      org.apache.arrow.memory.BufferAllocator parent,
      long capBytes,
      io.rtensor.wire.DecodeLimits limits,
      io.rtensor.runtime.SessionSecret secret) {
    SharedShardMemory memory = new SharedShardMemory();
    ShardStore store = new ShardStore(flightAddress, parent, capBytes, limits, memory);
    try {
      return new Started(
          store,
          start(
              store,
              memory,
              secret.key(io.rtensor.runtime.SessionSecret.DATA_PLANE),
              flightAddress));
    } catch (IOException | RuntimeException | LinkageError e) {
      LOG.info("same-node fetches are off at {}: {}", flightAddress, e.getMessage());
      return new Started(store, null);
    }
  }

  /**
   * Starts serving {@code store}'s segments for the shard server at {@code flightAddress}, whose
   * session's data-plane key is {@code key}; the socket is made in a new private directory under
   * the system's temporary directory.
   */
  public static SameNodeServer start(
      ShardStore store, SharedShardMemory memory, byte[] key, String flightAddress)
      throws IOException {
    Path dir =
        Files.createTempDirectory(
            Path.of(System.getProperty("java.io.tmpdir")),
            "rtensor-shm-",
            PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
    try {
      return new SameNodeServer(store, memory, key, flightAddress, dir);
    } catch (IOException | RuntimeException | Error e) {
      Files.deleteIfExists(dir);
      throw e;
    }
  }

  /** The socket's path. */
  public Path path() {
    return path;
  }

  /** The result of the {@link SameNodeWire#ACTION} action: the socket and this node's boot id. */
  public byte[] describe() {
    Map<String, Object> description = new LinkedHashMap<>();
    description.put("path", path.toString());
    description.put("bootId", SameNodeWire.bootId());
    description.put("minBytes", SharedShardMemory.MIN_SHARED_BYTES);
    try {
      return new com.fasterxml.jackson.databind.ObjectMapper().writeValueAsBytes(description);
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  private void acceptLoop() {
    while (!closed) {
      UnixSocket s;
      try {
        s = listener.accept();
      } catch (SharedMemoryException e) {
        if (!closed) {
          LOG.warn("same-node accept failed: {}", e.getMessage());
        }
        return;
      }
      connections.add(s);
      try {
        handlers.execute(() -> serve(s));
      } catch (RuntimeException e) { // shut down
        connections.remove(s);
        s.close();
      }
    }
  }

  private void serve(UnixSocket s) {
    try {
      s.setTimeoutMillis(IO_TIMEOUT_MILLIS);
      long peer = s.peerUid();
      if (peer != UnixSocket.effectiveUid()) {
        LOG.warn("same-node connection from user {} refused: only this process's user", peer);
        return;
      }
      StreamAuth.server(key, identity, SameNodeWire.messages(s));
      while (!closed) {
        byte[] request;
        try {
          request = SameNodeWire.receiveFrame(s);
        } catch (SharedMemoryException e) {
          return; // the client is done (closed, or idle past the deadline)
        }
        if (request.length == 0 || request[0] != SameNodeWire.GET) {
          sendError(s, "unknown request");
          return;
        }
        List<String> ids;
        try {
          ids = FlightWire.parseIds(Arrays.copyOfRange(request, 1, request.length), "request");
        } catch (IllegalArgumentException e) {
          sendError(s, "malformed request: " + e.getMessage());
          return;
        }
        answer(s, ids);
      }
    } catch (StreamAuth.RefusedException | IllegalArgumentException e) {
      LOG.debug("same-node connection refused: {}", e.getMessage());
    } catch (SharedMemoryException e) {
      LOG.debug("same-node connection dropped: {}", e.getMessage());
    } finally {
      connections.remove(s);
      s.close();
    }
  }

  private void answer(UnixSocket s, List<String> ids) {
    List<ArrowBuf> held;
    try {
      held = store.retain(ids);
    } catch (IllegalStateException e) {
      sendError(s, e.getMessage());
      return;
    } catch (RuntimeException e) {
      // Writing a deferred shard (a device tensor's copy to the host) failed.
      sendError(s, ShardStore.writeFailure(e));
      return;
    }
    try {
      List<String> missing = new java.util.ArrayList<>();
      for (int i = 0; i < ids.size(); i++) {
        if (held.get(i) == null) {
          missing.add(ids.get(i));
        }
      }
      if (!missing.isEmpty()) {
        SameNodeWire.sendFrame(s, new byte[] {SameNodeWire.MISSING});
        SameNodeWire.sendFrame(s, FlightWire.encodeIds(missing));
        return;
      }
      SameNodeWire.sendFrame(
          s, ByteBuffer.allocate(5).put(SameNodeWire.OK).putInt(ids.size()).array());
      for (ArrowBuf b : held) {
        int fd = memory.readOnlyDescriptor(b);
        try {
          byte[] record =
              ByteBuffer.allocate(SameNodeWire.RECORD_BYTES)
                  .put(fd >= 0 ? SameNodeWire.SHARED : SameNodeWire.NOT_SHARED)
                  .putLong(b.writerIndex())
                  .array();
          s.send(record, fd);
        } finally {
          UnixSocket.closeDescriptor(fd);
        }
      }
    } finally {
      held.stream().filter(java.util.Objects::nonNull).forEach(ArrowBuf::close);
    }
  }

  private static void sendError(UnixSocket s, String message) {
    SameNodeWire.sendFrame(s, new byte[] {SameNodeWire.ERROR});
    SameNodeWire.sendFrame(s, SameNodeWire.utf8(message));
  }

  /** Stops accepting, drops every connection and removes the socket and its directory. */
  @Override
  public void close() {
    closed = true;
    listener.shutdown();
    try {
      acceptor.join(5_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    listener.close();
    connections.forEach(UnixSocket::shutdown);
    handlers.shutdown();
    try {
      handlers.awaitTermination(5, java.util.concurrent.TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    try {
      Files.deleteIfExists(path);
      Files.deleteIfExists(directory);
    } catch (IOException e) {
      LOG.warn("could not remove {}: {}", path, e.getMessage());
    }
  }
}
