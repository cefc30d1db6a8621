package io.rtensor.transport;

import io.grpc.netty.NettyServerBuilder;
import io.netty.channel.ChannelOption;
import io.netty.channel.WriteBufferWaterMark;
import io.rtensor.auth.SessionAuthServer;
import io.rtensor.auth.SessionTls;
import io.rtensor.runtime.HostPort;
import io.rtensor.runtime.SessionSecret;
import io.rtensor.tensor.TensorBatch;
import io.rtensor.transport.internal.BulkShardServer;
import io.rtensor.transport.internal.DirectWrites;
import io.rtensor.transport.internal.FlightWire;
import io.rtensor.transport.internal.RequestSizeLimit;
import io.rtensor.transport.internal.SameNodeServer;
import io.rtensor.transport.internal.SameNodeWire;
import io.rtensor.transport.internal.ShardStore;
import io.rtensor.transport.internal.TlsContexts;
import io.rtensor.wire.DecodeLimits;
import io.rtensor.wire.WireFormatException;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.apache.arrow.flight.Action;
import org.apache.arrow.flight.ActionType;
import org.apache.arrow.flight.CallStatus;
import org.apache.arrow.flight.ErrorFlightMetadata;
import org.apache.arrow.flight.FlightDescriptor;
import org.apache.arrow.flight.FlightRuntimeException;
import org.apache.arrow.flight.FlightServer;
import org.apache.arrow.flight.FlightStream;
import org.apache.arrow.flight.Location;
import org.apache.arrow.flight.NoOpFlightProducer;
import org.apache.arrow.flight.PutResult;
import org.apache.arrow.flight.Result;
import org.apache.arrow.flight.Ticket;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.VectorSchemaRoot;

/**
 * The Arrow Flight server of one worker process: it keeps the shards this worker stores in a capped
 * allocator and serves them to other processes.
 *
 * <p>Calls: DoGet with a ticket of shard ids (one per line) streams those shards; DoPut with a
 * stream of {@code (id, shard)} rows stores them, all or none; actions {@code clear} (body: ids;
 * result: {@code {"cleared","entries","bytes"}}) and {@code stats} (result: {@code
 * {"entries","bytes","capBytes"}}), and {@code bulk-channel} (result: {@code {"port"}}, the port of
 * this server's bulk side channel, {@link BulkShardServer}, where large shards go without gRPC's
 * framing; 0 over TLS or where it is switched off). Every call must carry a token from the session
 * handshake ({@link io.rtensor.auth.SessionAuth}: the client proves it holds the session's
 * data-plane key, and this server proves it too, for its own address); a bad request gets a Flight
 * error status and the server keeps serving.
 */
public final class FlightShardServer implements AutoCloseable {
  /**
   * Bytes Netty may hold in a connection's outbound buffer before the channel turns unwritable. Its
   * HTTP/2 flow controller hands the streams of a connection at most about this much per pass (at
   * least 32 KiB), split evenly between the streams with data: with Netty's default (64 KiB) eight
   * concurrent DoGets each get 16 KiB slices, however large the client lets frames be. The bytes
   * held are mostly retained slices of stored shards (zero-copy writes), not copies. Larger is not
   * better: fetching 1 GiB over loopback on a 2-core VM took 650 ms with 4 MiB, 710 with 8 MiB, 740
   * with 16 MiB and 800 with 64 MiB (the bytes a peer reads soon after they were sent are still in
   * cache).
   */
  private static final int WRITE_BUFFER_HIGH = 4 << 20;

  private static final Consumer<NettyServerBuilder> SERVER_TRANSPORT =
      b ->
          b.withChildOption(
                  ChannelOption.WRITE_BUFFER_WATER_MARK,
                  new WriteBufferWaterMark(WRITE_BUFFER_HIGH / 2, WRITE_BUFFER_HIGH))
              // Stored shards go to the socket without Netty copying them: see DirectWrites.
              .protocolNegotiator(DirectWrites.serverPlaintext())
              // Tickets and action bodies are refused past their limit as they arrive.
              .addStreamTracerFactory(new RequestSizeLimit(FlightWire.MAX_REQUEST_MESSAGE_BYTES));

  /**
   * As {@link #SERVER_TRANSPORT}, over TLS with the session's certificate. Encryption copies every
   * byte anyway, so there are no zero-copy writes to keep.
   */
  private static Consumer<NettyServerBuilder> tlsTransport(SessionTls tls) {
    var negotiator = TlsContexts.serverNegotiator(tls);
    return b ->
        b.withChildOption(
                ChannelOption.WRITE_BUFFER_WATER_MARK,
                new WriteBufferWaterMark(WRITE_BUFFER_HIGH / 2, WRITE_BUFFER_HIGH))
            // A plaintext client is told TLS is required rather than dropped.
            .protocolNegotiator(negotiator)
            .addStreamTracerFactory(new RequestSizeLimit(FlightWire.MAX_REQUEST_MESSAGE_BYTES));
  }

  private final BufferAllocator allocator;
  private final ShardStore store;
  private final FlightServer server;
  private final String address;
  private final BulkShardServer bulk;
  private final SameNodeServer sameNode; // null: same-node fetches are off

  private FlightShardServer(Builder b) throws IOException {
    SessionAuthServer auth =
        new SessionAuthServer(SessionSecret.of(b.secret).key(SessionSecret.DATA_PLANE));
    this.allocator = b.parent.newChildAllocator("flight-shard-server", 0, Long.MAX_VALUE);
    ShardStore s = null;
    FlightServer f = null;
    BulkShardServer side = null;
    SameNodeServer same = null;
    try {
      f =
          FlightServer.builder(
                  allocator, Location.forGrpcInsecure(b.host, b.port), new Producer(this))
              .authHandler(auth)
              // One message carries at most one shard, which fits the decoder's limit and the cap.
              .maxInboundMessageSize(
                  (int)
                      Math.min(
                          Integer.MAX_VALUE,
                          Math.min(b.limits.maxBodyBytes(), b.capBytes) + (1 << 20)))
              .transportHint(
                  "grpc.builderConsumer", b.tls == null ? SERVER_TRANSPORT : tlsTransport(b.tls))
              .build();
      auth.start(f, b.host);
      String addr = HostPort.join(b.host, f.getPort());
      if (b.sameNode) {
        SameNodeServer.Started started =
            SameNodeServer.startStore(
                addr, allocator, b.capBytes, b.limits, SessionSecret.of(b.secret));
        s = started.store();
        same = started.server();
      } else {
        s = new ShardStore(addr, allocator, b.capBytes, b.limits);
      }
      if (b.bulkChannel && b.tls == null) {
        side = new BulkShardServer(b.host, s, auth::isValid);
      }
    } catch (IOException | RuntimeException e) {
      if (same != null) {
        same.close();
      }
      if (s != null) {
        s.close();
      }
      if (f != null) {
        f.shutdown();
      }
      allocator.close();
      throw e;
    }
    this.server = f;
    this.store = s;
    this.bulk = side;
    this.address = HostPort.join(b.host, f.getPort());
    this.sameNode = same;
  }

  /** A builder; {@code secret} is the scheduler session's shared secret. */
  public static Builder builder(BufferAllocator parent, String secret) {
    return new Builder(parent, secret);
  }

  /** The address other processes fetch from: {@code host:port}. */
  public String address() {
    return address;
  }

  /** The port of the bulk side channel, or 0 where this server has none. */
  public int bulkPort() {
    return bulk == null ? 0 : bulk.port();
  }

  /** Requests the bulk side channel has served whole. */
  public long bulkRequestsServed() {
    return bulk == null ? 0 : bulk.requestsServed();
  }

  /** The port the server listens on. */
  public int port() {
    return server.getPort();
  }

  /** Stores {@code batch} as shard {@code id} in this process (no network). */
  public void putLocal(String id, TensorBatch batch) {
    try {
      store.put(id, batch);
    } catch (ShardStore.StoreFullException e) {
      throw new ShardStoreFullException(address, e.getMessage());
    }
  }

  /**
   * Stores the shard {@code shard} writes as shard {@code id} in this process: its bytes are
   * written into the stored buffer itself (see {@link ShardWriter}).
   */
  public void putLocal(String id, ShardWriter shard) {
    try {
      store.put(id, shard.columns(), shard.rows(), shard);
    } catch (ShardStore.StoreFullException e) {
      throw new ShardStoreFullException(address, e.getMessage());
    }
  }

  /**
   * Registers shard {@code id} here, its bytes written by {@code shard} at its first read and
   * {@code source} kept until it is removed (see {@link ShardStore#putDeferred}).
   */
  public void putLocalDeferred(String id, ShardWriter shard, AutoCloseable source) {
    store.putDeferred(id, shard.columns(), shard.rows(), shard, source);
  }

  /** Decodes a shard stored here into {@code target} (sharing its bytes), or null. */
  public TensorBatch getLocal(String id, BufferAllocator target) {
    try {
      return store.get(id, target);
    } catch (ShardStore.StoreFullException e) {
      throw new ShardStoreFullException(address, e.getMessage());
    }
  }

  /** True if shard {@code id} is stored here. */
  public boolean holds(String id) {
    return store.missing(List.of(id)).isEmpty();
  }

  /** Removes shards stored here; returns how many were. */
  public long removeLocal(Collection<String> ids) {
    return store.remove(ids);
  }

  /** Entries and bytes stored here. */
  public StoreStats stats() {
    return store.stats();
  }

  /** Calls {@code listener} with the ids of removed shards (local or remote clears). */
  public void onShardsRemoved(Consumer<Collection<String>> listener) {
    store.onRemoved(listener);
  }

  /** Stops serving and frees every stored shard. */
  @Override
  public void close() {
    if (bulk != null) {
      bulk.close();
    }
    try {
      server.shutdown();
      server.awaitTermination(
          java.time.Duration.ofSeconds(5).toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      try {
        server.close();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      if (sameNode != null) {
        sameNode.close();
      }
      store.close();
      allocator.close();
    }
  }

  /** Options of a {@link FlightShardServer}. */
  public static final class Builder {
    private final BufferAllocator parent;
    private final String secret;
    private String host = "127.0.0.1";
    private int port;
    private long capBytes = 8L << 30;
    private DecodeLimits limits = DecodeLimits.DEFAULT;
    private SessionTls tls;
    private boolean bulkChannel = true;
    private boolean sameNode = true;

    private Builder(BufferAllocator parent, String secret) {
      this.parent = Objects.requireNonNull(parent, "parent");
      this.secret = Objects.requireNonNull(secret, "secret");
    }

    /**
     * Serve over TLS with the session's certificate ({@code tls} must hold its key); null (the
     * default) serves plaintext. Clients then need the same session's certificate ({@link
     * FlightDataPlane.Builder#tls}).
     */
    public Builder tls(SessionTls tls) {
      if (tls != null && !tls.hasKey()) {
        throw new IllegalArgumentException("a TLS server needs the session's private key");
      }
      this.tls = tls;
      return this;
    }

    /** The address to bind and advertise (default 127.0.0.1). */
    public Builder host(String host) {
      this.host = Objects.requireNonNull(host);
      return this;
    }

    /** The port (default 0: an ephemeral one). */
    public Builder port(int port) {
      this.port = port;
      return this;
    }

    /** Most bytes of stored shards (default 8 GiB); a put past it is refused. */
    public Builder capBytes(long capBytes) {
      this.capBytes = capBytes;
      return this;
    }

    /**
     * Whether processes of this node may fetch shards through shared memory (default true; see
     * {@code transport.internal.SameNodeServer}): shards of 1 MiB and more are then stored in memfd
     * segments, and the action {@code same-node} names a Unix socket that hands them out.
     */
    public Builder sameNode(boolean on) {
      this.sameNode = on;
      return this;
    }

    /** Decoder limits put streams are checked against. */
    public Builder limits(DecodeLimits limits) {
      this.limits = Objects.requireNonNull(limits);
      return this;
    }

    /**
     * Whether to serve the bulk side channel ({@link BulkShardServer}) beside Flight (default true;
     * never over TLS, whose encryption the side channel does not have).
     */
    public Builder bulkChannel(boolean on) {
      this.bulkChannel = on;
      return this;
    }

    /** Starts the server. */
    public FlightShardServer start() throws IOException {
      return new FlightShardServer(this);
    }
  }

  // ---------------------------------------------------------------- the producer

  private static final long PACK_BYTES = 4L << 20;

  private static final class Producer extends NoOpFlightProducer {
    private final FlightShardServer owner;

    Producer(FlightShardServer owner) {
      this.owner = owner;
    }

    @Override
    public void getStream(CallContext context, Ticket ticket, ServerStreamListener listener) {
      List<String> ids;
      try {
        ids = FlightWire.parseIds(ticket.getBytes(), "ticket");
      } catch (IllegalArgumentException e) {
        listener.error(
            CallStatus.INVALID_ARGUMENT
                .withDescription("malformed ticket: " + e.getMessage())
                .toRuntimeException());
        return;
      }
      List<ArrowBuf> shards;
      try {
        shards = owner.store.retain(ids);
      } catch (IllegalStateException e) {
        listener.error(CallStatus.UNAVAILABLE.withDescription(e.getMessage()).toRuntimeException());
        return;
      } catch (RuntimeException e) {
        // Writing a deferred shard (a device tensor's copy to the host) failed.
        listener.error(
            CallStatus.INTERNAL.withDescription(ShardStore.writeFailure(e)).toRuntimeException());
        return;
      }
      try {
        List<String> missing = new ArrayList<>();
        for (int i = 0; i < ids.size(); i++) {
          if (shards.get(i) == null) {
            missing.add(ids.get(i));
          }
        }
        if (!missing.isEmpty()) {
          ErrorFlightMetadata meta = new ErrorFlightMetadata();
          meta.insert(FlightWire.MISSING_KEY, String.join(",", missing));
          listener.error(
              CallStatus.NOT_FOUND
                  .withDescription(
                      missing.size()
                          + " of "
                          + ids.size()
                          + " shards not stored at "
                          + owner.address
                          + ": "
                          // The metadata lists them all; the message stays short.
                          + (missing.size() <= 16
                              ? missing
                              : missing.subList(0, 16) + " and " + (missing.size() - 16) + " more"))
                  .withMetadata(meta)
                  .toRuntimeException());
          return;
        }
        // Zero-copy write: gRPC sends the message buffers themselves, retained until written,
        // instead of copying each message into its own buffers first. So they come from the
        // server's allocator (closed after the transport), not from one closed with this call.
        BufferAllocator scratch = owner.allocator;
        try (VectorSchemaRoot root = VectorSchemaRoot.create(FlightWire.SCHEMA, scratch)) {
          listener.setUseZeroCopy(true);
          Semaphore ready = new Semaphore(0);
          listener.setOnReadyHandler(ready::release);
          listener.start(root);
          // A large shard goes alone, as stored (no copy); small ones are packed into messages
          // of up to PACK_BYTES, one copy, so per-message costs do not dominate.
          int i = 0;
          while (i < ids.size()) {
            ArrowBuf shard = shards.get(i);
            if (shard.writerIndex() >= PACK_BYTES / 4) {
              FlightWire.loadRow(root, ids.get(i), shard, 0, shard.writerIndex(), scratch);
              i++;
            } else {
              int end = i;
              long bytes = 0;
              while (end < ids.size()
                  && shards.get(end).writerIndex() < PACK_BYTES / 4
                  && bytes + shards.get(end).writerIndex() <= PACK_BYTES) {
                bytes += shards.get(end).writerIndex();
                end++;
              }
              FlightWire.loadRows(root, ids.subList(i, end), shards.subList(i, end), scratch);
              i = end;
            }
            if (!awaitReady(listener, ready)) {
              return;
            }
            listener.putNext();
          }
          root.clear();
          listener.completed();
        }
      } catch (RuntimeException e) {
        listener.error(
            CallStatus.INTERNAL.withDescription(e.toString()).withCause(e).toRuntimeException());
      } finally {
        shards.stream().filter(Objects::nonNull).forEach(ArrowBuf::close);
      }
    }

    /**
     * Waits until the transport has room for the next message, so a many-shard stream is not
     * buffered whole; false if the client went away. gRPC's on-ready callback releases {@code
     * ready}; the wait wakes every 10 ms regardless, to notice a cancelled call.
     */
    private static boolean awaitReady(ServerStreamListener listener, Semaphore ready) {
      long deadline = System.nanoTime() + 120_000_000_000L;
      while (!listener.isReady()) {
        if (listener.isCancelled()) {
          return false;
        }
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          listener.error(
              CallStatus.TIMED_OUT
                  .withDescription("client read nothing for 120 s")
                  .toRuntimeException());
          return false;
        }
        try {
          ready.tryAcquire(Math.min(left, 10_000_000L), TimeUnit.NANOSECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          listener.error(
              CallStatus.CANCELLED.withDescription("server shutting down").toRuntimeException());
          return false;
        }
      }
      return true;
    }

    /**
     * Stores a put stream's shards, all or none. The stream is refused with RESOURCE_EXHAUSTED as
     * soon as it cannot fit the store: when its descriptor declares more bytes than the store has
     * free ({@link FlightWire#putCommand}), or when the shard bytes received so far pass that, so a
     * put over the cap is not received in full first. Bytes that are not a valid put stream are
     * INVALID_ARGUMENT.
     */
    @Override
    public Runnable acceptPut(
        CallContext context, FlightStream stream, StreamListener<PutResult> ack) {
      return () -> {
        List<FlightWire.Row> rows = new ArrayList<>();
        List<ArrowBuf> held = new ArrayList<>();
        try {
          // The reads below wait on the client. Their deadline is the client's: gRPC cancels the
          // call (and these reads end) at the deadline a client sends, as ours always does
          // (DataPlaneDeadlines). A client that sends none holds one server thread until it
          // disconnects; Flight's server stream offers no timed read.
          FlightDescriptor descriptor = stream.getDescriptor();
          long declared =
              descriptor != null && descriptor.isCommand()
                  ? FlightWire.declaredPutBytes(descriptor.getCommand())
                  : -1;
          long free = owner.store.freeBytes();
          if (declared > free) {
            throw new ShardStore.StoreFullException(
                "shard store at "
                    + owner.address
                    + " is full: the put declares "
                    + declared
                    + " bytes and "
                    + free
                    + " of its cap of "
                    + owner.store.stats().capBytes()
                    + " bytes are free; clear shards first");
          }
          long received = 0;
          while (next(stream)) {
            for (FlightWire.Row r : FlightWire.rows(stream.getRoot())) {
              received += r.length();
              if (received > free) {
                throw new ShardStore.StoreFullException(
                    "shard store at "
                        + owner.address
                        + " is full: the put passed the "
                        + free
                        + " bytes its cap of "
                        + owner.store.stats().capBytes()
                        + " left free, after "
                        + (rows.size() + 1)
                        + " shard(s); clear shards first");
              }
              // The root is refilled by the next message: hold this one's data buffer.
              ArrowBuf data = r.data();
              data.getReferenceManager().retain();
              held.add(data);
              rows.add(r);
            }
          }
          owner.store.putAll(rows);
          ack.onCompleted();
        } catch (WireFormatException e) {
          ack.onError(
              CallStatus.INVALID_ARGUMENT
                  .withDescription("not a valid shard stream: " + e.getMessage())
                  .toRuntimeException());
        } catch (ShardStore.StoreFullException e) {
          ack.onError(
              CallStatus.RESOURCE_EXHAUSTED.withDescription(e.getMessage()).toRuntimeException());
        } catch (IllegalArgumentException | IndexOutOfBoundsException e) {
          ack.onError(
              CallStatus.INVALID_ARGUMENT
                  .withDescription("malformed put: " + e.getMessage())
                  .toRuntimeException());
        } catch (FlightRuntimeException e) {
          ack.onError(e);
        } catch (RuntimeException e) {
          ack.onError(
              CallStatus.INTERNAL.withDescription(e.toString()).withCause(e).toRuntimeException());
        } finally {
          held.forEach(ArrowBuf::close);
        }
      };
    }

    /**
     * The next message of a put stream. Arrow reports bytes it cannot read as a message of the
     * stream (a bad IPC header or body layout) with assorted runtime exceptions: those are the
     * sender's, so they become IllegalArgumentException (INVALID_ARGUMENT); a Flight status (the
     * client cancelled) passes through.
     */
    private static boolean next(FlightStream stream) {
      try {
        return stream.next();
      } catch (FlightRuntimeException e) {
        throw e;
      } catch (RuntimeException e) {
        throw new IllegalArgumentException("unreadable put message: " + e, e);
      }
    }

    @Override
    public void doAction(CallContext context, Action action, StreamListener<Result> listener) {
      try {
        switch (action.getType()) {
          case FlightWire.ACTION_CLEAR -> {
            List<String> ids = FlightWire.parseIds(action.getBody(), "clear body");
            long cleared = owner.store.remove(ids);
            StoreStats s = owner.store.stats();
            listener.onNext(
                new Result(
                    FlightWire.json(
                        "cleared", cleared, "entries", s.entries(), "bytes", s.bytes())));
          }
          case BulkShardServer.ACTION -> {
            listener.onNext(new Result(FlightWire.json("port", owner.bulkPort())));
          }
          case SameNodeWire.ACTION -> {
            if (owner.sameNode == null) {
              throw new IllegalArgumentException("same-node fetches are off at " + owner.address);
            }
            listener.onNext(new Result(owner.sameNode.describe()));
          }
          case FlightWire.ACTION_STATS -> {
            StoreStats s = owner.store.stats();
            listener.onNext(
                new Result(
                    FlightWire.json(
                        "entries", s.entries(), "bytes", s.bytes(), "capBytes", s.capBytes())));
          }
          default -> {
            listener.onError(
                CallStatus.INVALID_ARGUMENT
                    .withDescription(
                        "unknown action '"
                            + action.getType()
                            + "'; actions: "
                            + FlightWire.ACTION_CLEAR
                            + ", "
                            + FlightWire.ACTION_STATS
                            + ", "
                            + BulkShardServer.ACTION
                            + ", "
                            + SameNodeWire.ACTION)
                    .toRuntimeException());
            return;
          }
        }
        listener.onCompleted();
      } catch (IllegalArgumentException e) {
        listener.onError(
            CallStatus.INVALID_ARGUMENT.withDescription(e.getMessage()).toRuntimeException());
      } catch (RuntimeException e) {
        listener.onError(
            CallStatus.INTERNAL.withDescription(e.toString()).withCause(e).toRuntimeException());
      }
    }

    @Override
    public void listActions(CallContext context, StreamListener<ActionType> listener) {
      listener.onNext(new ActionType(FlightWire.ACTION_CLEAR, "remove shards: body is ids"));
      listener.onNext(new ActionType(FlightWire.ACTION_STATS, "entries, bytes, capBytes"));
      listener.onNext(new ActionType(BulkShardServer.ACTION, "port of the bulk side channel"));
      listener.onCompleted();
    }
  }
}
