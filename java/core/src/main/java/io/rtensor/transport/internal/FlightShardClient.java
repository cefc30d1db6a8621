package io.rtensor.transport.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.protobuf.ByteString;
import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.ClientStreamTracer;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.InternalNettyChannelBuilder;
import io.grpc.netty.NettyChannelBuilder;
import io.netty.channel.AdaptiveRecvByteBufAllocator;
import io.netty.channel.ChannelOption;
import io.netty.handler.ssl.SslContext;
import io.rtensor.auth.SessionAuthClient;
import io.rtensor.auth.SessionTls;
import io.rtensor.memory.BlockPool;
import io.rtensor.runtime.HostPort;
import io.rtensor.runtime.SessionSecret;
import io.rtensor.tensor.TensorBatch;
import io.rtensor.transport.BadShardRequestException;
import io.rtensor.transport.ClearResult;
import io.rtensor.transport.DataPlaneAuthException;
import io.rtensor.transport.DataPlaneDeadlines;
import io.rtensor.transport.DataPlaneException;
import io.rtensor.transport.DataPlaneTimeoutException;
import io.rtensor.transport.DataPlaneTlsException;
import io.rtensor.transport.FetchStalledException;
import io.rtensor.transport.FetchTimeoutException;
import io.rtensor.transport.MissingShardsException;
import io.rtensor.transport.ShardStoreFullException;
import io.rtensor.transport.StoreStats;
import io.rtensor.wire.DecodeLimits;
import io.rtensor.wire.ShardCodec;
import io.rtensor.wire.WireFormatException;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.apache.arrow.flatbuf.MessageHeader;
import org.apache.arrow.flight.Action;
import org.apache.arrow.flight.AsyncPutListener;
import org.apache.arrow.flight.CallOption;
import org.apache.arrow.flight.FlightCallHeaders;
import org.apache.arrow.flight.FlightClient;
import org.apache.arrow.flight.FlightDescriptor;
import org.apache.arrow.flight.FlightGrpcUtils;
import org.apache.arrow.flight.FlightRuntimeException;
import org.apache.arrow.flight.FlightStatusCode;
import org.apache.arrow.flight.HeaderCallOption;
import org.apache.arrow.flight.Result;
import org.apache.arrow.flight.grpc.StatusUtils;
import org.apache.arrow.flight.impl.Flight;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.VectorLoader;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.ipc.message.ArrowRecordBatch;
import org.apache.arrow.vector.ipc.message.MessageSerializer;
import org.apache.arrow.vector.types.pojo.Schema;

/** A client of one {@link io.rtensor.transport.FlightShardServer}. Thread-safe. */
public final class FlightShardClient implements AutoCloseable {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final int RECEIVE_WINDOW = 64 << 20;
  private static final int MAX_READ = 1 << 20;

  /** gRPC's deadline on a DoGet is this much later than ours, so ours names what passed. */
  private static final long GRPC_DEADLINE_SLACK = TimeUnit.SECONDS.toNanos(1);

  private final String address;
  private final BufferAllocator allocator;
  private final ManagedChannel channel;
  private final FlightClient client;
  private final SessionAuthClient session;
  private final boolean tls;

  /** Runs handshakes a fetch waits for with its own deadlines (see {@code authorize}). */
  private final ExecutorService handshakes =
      Executors.newCachedThreadPool(
          r -> {
            Thread t = new Thread(r, "flight-handshake");
            t.setDaemon(true);
            return t;
          });

  private final BlockPool pool;
  private final DataPlaneDeadlines deadlines;
  private final String host;

  /** The server's bulk side channel: unknown until asked, then its endpoint or {@link #NO_BULK}. */
  private volatile Optional<InetSocketAddress> bulk;

  private static final Optional<InetSocketAddress> NO_BULK = Optional.empty();

  /**
   * A client of the server at {@code host:port}, which must prove it holds the session's data-plane
   * key for that address before this client sends it anything but a nonce; {@code secret} null
   * authenticates nothing (every call is then refused).
   */
  public FlightShardClient(String address, BufferAllocator parent, String secret) {
    this(address, parent, secret, null);
  }

  /**
   * As {@link #FlightShardClient(String, BufferAllocator, String)}, with fetched message bodies
   * taken from {@code pool} (null: plain allocations of the target allocator).
   */
  public FlightShardClient(String address, BufferAllocator parent, String secret, BlockPool pool) {
    this(address, parent, secret, pool, DataPlaneDeadlines.DEFAULT);
  }

  /**
   * As {@link #FlightShardClient(String, BufferAllocator, String, BlockPool)}, with the deadlines
   * of its puts and actions (a fetch is given its own).
   */
  public FlightShardClient(
      String address,
      BufferAllocator parent,
      String secret,
      BlockPool pool,
      DataPlaneDeadlines deadlines) {
    this(address, parent, secret, pool, deadlines, null);
  }

  /**
   * As {@link #FlightShardClient(String, BufferAllocator, String, BlockPool, DataPlaneDeadlines)},
   * over TLS when {@code tls} is not null: the server must present that session's certificate
   * (trusted alone, for the name {@link SessionTls#SERVER_NAME}) before the session handshake.
   */
  public FlightShardClient(
      String address,
      BufferAllocator parent,
      String secret,
      BlockPool pool,
      DataPlaneDeadlines deadlines,
      SessionTls tls) {
    this.address = address;
    this.tls = tls != null;
    this.pool = pool;
    this.deadlines = java.util.Objects.requireNonNull(deadlines, "deadlines");
    this.allocator = parent.newChildAllocator("flight-client " + address, 0, Long.MAX_VALUE);
    // A large HTTP/2 receive window: with gRPC's default (1 MiB, grown slowly by BDP probes) a
    // 16 MiB shard takes many window-update round trips.
    HostPort hostPort = HostPort.parse(address);
    this.host = hostPort.host();
    int port = hostPort.port();
    NettyChannelBuilder builder =
        NettyChannelBuilder.forAddress(host, port)
            .usePlaintext()
            .flowControlWindow(RECEIVE_WINDOW)
            .maxInboundMessageSize(Integer.MAX_VALUE)
            // A NOT_FOUND lists the missing ids in its trailers: up to a ticket's worth.
            .maxInboundMetadataSize(FlightWire.MAX_REQUEST_BYTES + (64 << 10));
    // Socket reads of up to 1 MiB (Netty's default stops at 64 KiB): a 16 MiB frame then arrives
    // in a few pieces, with fewer read calls and fewer pieces for DoGetReader to walk.
    builder.withOption(
        ChannelOption.RCVBUF_ALLOCATOR, new AdaptiveRecvByteBufAllocator(64, 64 << 10, MAX_READ));
    // Lets the server send DATA frames of up to 16 MiB instead of 16 KiB: see LargeFrames.
    if (tls == null) {
      InternalNettyChannelBuilder.setProtocolNegotiatorFactory(builder, LargeFrames::client);
    } else {
      // The same over TLS, the certificate checked for the session's name, not the node's address.
      SslContext context = TlsContexts.client(tls);
      builder.overrideAuthority(SessionTls.SERVER_NAME);
      InternalNettyChannelBuilder.setProtocolNegotiatorFactory(
          builder, () -> LargeFrames.clientTls(context, SessionTls.SERVER_NAME));
    }
    this.channel = builder.build();
    this.client = FlightGrpcUtils.createFlightClient(allocator, channel);
    this.session =
        secret == null
            ? null
            : new SessionAuthClient(
                channel,
                SessionSecret.of(secret).key(SessionSecret.DATA_PLANE),
                hostPort.toString());
  }

  /** The session token for a call through {@link #client} (a handshake first if needed). */
  public CallOption auth() {
    return session == null ? new HeaderCallOption(new FlightCallHeaders()) : session.callOption();
  }

  /**
   * As {@link #auth()}, waiting at most {@code limit} for a handshake it needs, which is cancelled
   * past it.
   *
   * @throws DataPlaneTimeoutException if the server does not complete the handshake in time
   */
  private CallOption auth(Duration limit) {
    if (session == null) {
      return auth();
    }
    Future<CallOption> handshake = handshakes.submit(session::callOption);
    try {
      return handshake.get(limit.toNanos(), TimeUnit.NANOSECONDS);
    } catch (TimeoutException e) {
      handshake.cancel(true);
      throw new DataPlaneTimeoutException(
          address,
          limit,
          "no answer from "
              + address
              + " to the session handshake within "
              + limit.toMillis()
              + " ms");
    } catch (ExecutionException e) {
      throw handshakeFailed(e);
    } catch (InterruptedException e) {
      throw handshakeInterrupted(handshake, e);
    }
  }

  /** What a handshake that ended with {@code e} throws: the mapped Flight error or its cause. */
  private RuntimeException handshakeFailed(ExecutionException e) {
    if (e.getCause() instanceof FlightRuntimeException f) {
      return map(f);
    }
    return e.getCause() instanceof RuntimeException r
        ? r
        : new DataPlaneException(address, "session handshake failed: " + e.getCause(), e);
  }

  /** Cancels a handshake the caller was interrupted waiting for, keeping the interrupt. */
  private DataPlaneException handshakeInterrupted(Future<?> handshake, InterruptedException e) {
    handshake.cancel(true);
    Thread.currentThread().interrupt();
    return new DataPlaneException(address, "interrupted during the session handshake", e);
  }

  public String address() {
    return address;
  }

  /**
   * Fetches {@code ids} in one DoGet with this client's stall deadline and base overall deadline:
   * as {@link #get(List, BufferAllocator, DecodeLimits, Duration, long)}.
   */
  public Map<String, TensorBatch> get(
      List<String> ids, BufferAllocator target, DecodeLimits limits) {
    DataPlaneDeadlines d = deadlines;
    return get(ids, target, limits, d.stall(), System.nanoTime() + d.base().toNanos());
  }

  /**
   * Fetches {@code ids} in one DoGet; the batches are decoded into {@code target} (their tensors
   * share the received bytes, copied once from gRPC's buffers into {@code target}: see {@link
   * DoGetReader}) and owned by the caller.
   *
   * <p>The call fails with {@link FetchStalledException} when no byte of it arrives for {@code
   * stall} (progress is counted as gRPC receives bytes of the stream, at most one HTTP/2 frame at a
   * time), and with {@link FetchTimeoutException} at {@code deadlineNanos} ({@link
   * System#nanoTime()} clock). Either way, and on interruption, the call is cancelled and what was
   * decoded is freed before this returns.
   */
  public Map<String, TensorBatch> get(
      List<String> ids,
      BufferAllocator target,
      DecodeLimits limits,
      Duration stall,
      long deadlineNanos) {
    long start = System.nanoTime();
    if (deadlineNanos - start <= 0) {
      throw new FetchTimeoutException(
          address,
          ids,
          Duration.ZERO,
          "the fetch's overall deadline passed before this request to " + address + " started");
    }
    Flight.Ticket ticket =
        Flight.Ticket.newBuilder()
            .setTicket(ByteString.copyFrom(FlightWire.encodeIds(ids)))
            .build();
    Metadata headers = new Metadata();
    if (session != null) {
      authorize(headers, ids, stall, start, deadlineNanos);
    }
    AtomicLong progress = new AtomicLong(start);
    ClientCall<Flight.Ticket, InputStream> call =
        channel.newCall(
            DoGetReader.DO_GET,
            CallOptions.DEFAULT
                // gRPC's own deadline (also sent to the server) backs up the wait below.
                .withDeadlineAfter(
                    deadlineNanos - start + GRPC_DEADLINE_SLACK, TimeUnit.NANOSECONDS)
                .withStreamTracerFactory(new ProgressTracer(progress)));
    GetListener listener = new GetListener(call, target, limits, progress);
    call.start(listener, headers);
    call.sendMessage(ticket);
    call.halfClose();
    call.request(1);
    Map<String, TensorBatch> out;
    try {
      out = await(listener, call, ids, stall.toNanos(), start, deadlineNanos);
    } catch (InterruptedException e) {
      call.cancel("interrupted", e);
      listener.awaitClose();
      Thread.currentThread().interrupt();
      throw new DataPlaneException(address, "interrupted while fetching", e);
    } catch (ExecutionException e) {
      Throwable c = e.getCause();
      if (c instanceof StatusRuntimeException s) {
        if (s.getStatus().getCode() == Status.Code.DEADLINE_EXCEEDED) {
          throw new FetchTimeoutException(
              address,
              ids,
              Duration.ofNanos(deadlineNanos - start),
              "no complete answer from " + address + " within the fetch's overall deadline");
        }
        throw map(StatusUtils.fromGrpcRuntimeException(s));
      }
      if (c instanceof WireFormatException w) {
        throw new DataPlaneException(address, "server sent a corrupt shard: " + w.getMessage(), w);
      }
      if (c instanceof RuntimeException r) {
        throw r;
      }
      throw new DataPlaneException(address, "fetch failed: " + c, c);
    }
    if (out.size() != ids.size()) {
      out.values().forEach(TensorBatch::close);
      throw new DataPlaneException(
          address, "server sent " + out.size() + " of " + ids.size() + " shards");
    }
    return out;
  }

  /**
   * Fetches {@code ids} as {@link #get(List, BufferAllocator, DecodeLimits, Duration, long)} does,
   * with the same deadlines and errors, through the server's bulk side channel ({@link
   * BulkShardServer}) where it has one: large shards then reach the socket without gRPC's framing.
   * Through DoGet where it has none, over TLS, and without a session secret.
   */
  public Map<String, TensorBatch> getBulk(
      List<String> ids,
      BufferAllocator target,
      DecodeLimits limits,
      Duration stall,
      long deadlineNanos) {
    long start = System.nanoTime();
    if (session == null || tls || deadlineNanos - start <= 0) {
      return get(ids, target, limits, stall, deadlineNanos);
    }
    authorize(new Metadata(), ids, stall, start, deadlineNanos);
    Optional<InetSocketAddress> endpoint = bulk;
    if (endpoint == null) {
      endpoint =
          awaitSetup(
              handshakes.submit(this::askForBulk),
              "the bulk channel request",
              ids,
              stall,
              start,
              deadlineNanos);
      bulk = endpoint;
    }
    if (endpoint.isEmpty()) {
      return get(ids, target, limits, stall, deadlineNanos);
    }
    return BulkShardFetch.get(
        address,
        endpoint.get(),
        session.token(),
        ids,
        target,
        pool,
        limits,
        stall,
        start,
        deadlineNanos);
  }

  /** The server's bulk endpoint from its action, or none where it has none. */
  private Optional<InetSocketAddress> askForBulk() throws IOException {
    try {
      Iterator<Result> results =
          client.doAction(
              new Action(BulkShardServer.ACTION, new byte[0]),
              session.callOption(),
              actionTimeout());
      JsonNode n = results.hasNext() ? JSON.readTree(results.next().getBody()) : null;
      while (results.hasNext()) {
        results.next();
      }
      int port = n == null ? 0 : n.path("port").asInt(0);
      return port > 0 && port < 65536 ? Optional.of(new InetSocketAddress(host, port)) : NO_BULK;
    } catch (FlightRuntimeException e) {
      if (e.status().code() == FlightStatusCode.INVALID_ARGUMENT) {
        return NO_BULK; // a server that does not know the action: DoGet only
      }
      throw e;
    }
  }

  /**
   * Waits for the call's result while it makes progress and its deadline has not passed; else
   * cancels it, waits (bounded) for it to close, and throws the deadline's exception.
   */
  private Map<String, TensorBatch> await(
      GetListener listener,
      ClientCall<Flight.Ticket, InputStream> call,
      List<String> ids,
      long stallNanos,
      long start,
      long deadlineNanos)
      throws InterruptedException, ExecutionException {
    while (true) {
      long now = System.nanoTime();
      long stallLeft = progress(listener) + stallNanos - now;
      long overallLeft = deadlineNanos - now;
      FetchTimeoutException expired = null;
      if (overallLeft <= 0) {
        expired =
            new FetchTimeoutException(
                address,
                ids,
                Duration.ofNanos(deadlineNanos - start),
                "no complete answer from " + address + " within the fetch's overall deadline");
      } else if (stallLeft <= 0) {
        Duration quiet = Duration.ofNanos(now - progress(listener));
        expired =
            new FetchStalledException(
                address,
                ids,
                Duration.ofNanos(stallNanos),
                "no bytes from "
                    + address
                    + " for "
                    + quiet.toMillis()
                    + " ms (stall deadline "
                    + Duration.ofNanos(stallNanos).toMillis()
                    + " ms): the peer is not answering");
      }
      if (expired != null) {
        call.cancel(expired.getMessage(), expired);
        listener.awaitClose();
        throw expired;
      }
      try {
        return listener.result.get(Math.min(stallLeft, overallLeft), TimeUnit.NANOSECONDS);
      } catch (TimeoutException e) {
        // check the deadlines again
      }
    }
  }

  /**
   * Puts the session token in {@code headers}, running the handshake first where the client has
   * none, within the fetch's deadlines: a peer that does not answer the handshake fails the fetch
   * like one that does not answer the DoGet. The handshake runs on a helper thread, interrupted
   * (which cancels its call) when the fetch gives up on it.
   */
  private void authorize(
      Metadata headers, List<String> ids, Duration stall, long start, long deadlineNanos) {
    awaitSetup(
        handshakes.submit(() -> session.attach(headers)),
        "the session handshake",
        ids,
        stall,
        start,
        deadlineNanos);
  }

  /**
   * Waits for {@code setup} (a call before a fetch's own, run on a helper thread) within the
   * fetch's stall and overall deadlines, as for the fetch itself; cancels it past them.
   */
  private <T> T awaitSetup(
      Future<T> setup,
      String name,
      List<String> ids,
      Duration stall,
      long start,
      long deadlineNanos) {
    Future<T> handshake = setup;
    long stallEnd = start + stall.toNanos();
    try {
      return handshake.get(
          Math.max(0, Math.min(stallEnd, deadlineNanos) - System.nanoTime()), TimeUnit.NANOSECONDS);
    } catch (TimeoutException e) {
      handshake.cancel(true);
      long waited = System.nanoTime() - start;
      String what =
          "no answer from " + address + " to " + name + " for " + waited / 1_000_000 + " ms";
      throw deadlineNanos - stallEnd <= 0
          ? new FetchTimeoutException(
              address,
              ids,
              Duration.ofNanos(deadlineNanos - start),
              what + " (the fetch's overall deadline)")
          : new FetchStalledException(address, ids, stall, what + " (stall deadline)");
    } catch (ExecutionException e) {
      if (e.getCause() instanceof FlightRuntimeException f
          && f.status().code() == FlightStatusCode.TIMED_OUT) {
        throw new FetchStalledException(
            address,
            ids,
            Duration.ofMillis(SessionAuthClient.HANDSHAKE_TIMEOUT_MILLIS),
            "no answer from " + address + " to " + name + ": " + f.getMessage());
      }
      throw handshakeFailed(e);
    } catch (InterruptedException e) {
      throw handshakeInterrupted(handshake, e);
    }
  }

  private static long progress(GetListener listener) {
    return listener.progress.get();
  }

  /** Marks progress whenever gRPC receives bytes of the call's response (headers or body). */
  private static final class ProgressTracer extends ClientStreamTracer.Factory {
    private final AtomicLong progress;

    ProgressTracer(AtomicLong progress) {
      this.progress = progress;
    }

    @Override
    public ClientStreamTracer newClientStreamTracer(
        ClientStreamTracer.StreamInfo info, Metadata headers) {
      return new ClientStreamTracer() {
        @Override
        public void inboundHeaders() {
          progress.set(System.nanoTime());
        }

        @Override
        public void inboundWireSize(long bytes) {
          progress.set(System.nanoTime());
        }
      };
    }
  }

  /**
   * Decodes a DoGet's messages as they arrive (one at a time, on gRPC's executor) and completes
   * {@link #result} when the call closes; on any failure it frees what it decoded.
   */
  private final class GetListener extends ClientCall.Listener<InputStream> {
    final CompletableFuture<Map<String, TensorBatch>> result = new CompletableFuture<>();
    private final ClientCall<Flight.Ticket, InputStream> call;
    private final BufferAllocator target;
    private final DecodeLimits limits;
    private final AtomicLong progress;
    private final Map<String, TensorBatch> out = new LinkedHashMap<>();
    private VectorSchemaRoot root;
    private Throwable failure;

    GetListener(
        ClientCall<Flight.Ticket, InputStream> call,
        BufferAllocator target,
        DecodeLimits limits,
        AtomicLong progress) {
      this.call = call;
      this.target = target;
      this.limits = limits;
      this.progress = progress;
    }

    @Override
    public void onMessage(InputStream message) {
      if (failure != null) {
        return;
      }
      // Decoding is this side's work, not the peer's silence.
      progress.set(System.nanoTime());
      try (DoGetReader.Frame f = DoGetReader.read(message, target, pool)) {
        switch (f.header().headerType()) {
          case MessageHeader.Schema -> {
            Schema schema = MessageSerializer.deserializeSchema(f.header());
            if (root != null || !FlightWire.SCHEMA.equals(schema)) {
              throw new DataPlaneException(
                  address, "server sent an unexpected schema " + schema + " in a shard stream");
            }
            root = VectorSchemaRoot.create(FlightWire.SCHEMA, target);
          }
          case MessageHeader.RecordBatch -> {
            if (root == null) {
              throw new DataPlaneException(address, "server sent a record batch before a schema");
            }
            try (ArrowRecordBatch rb = f.recordBatch(target)) {
              new VectorLoader(root).load(rb);
            }
            for (FlightWire.Row r : FlightWire.rows(root)) {
              TensorBatch b = ShardCodec.decode(r.data(), r.offset(), r.length(), target, limits);
              TensorBatch previous = out.put(r.id(), b);
              if (previous != null) {
                previous.close();
              }
            }
            root.clear();
          }
          default ->
              throw new DataPlaneException(
                  address, "server sent IPC message type " + f.header().headerType());
        }
        progress.set(System.nanoTime());
        call.request(1);
      } catch (IOException e) {
        fail(new DataPlaneException(address, "server sent a malformed message: " + e, e));
      } catch (IllegalArgumentException e) {
        fail(
            new DataPlaneException(address, "server sent a malformed batch: " + e.getMessage(), e));
      } catch (RuntimeException | Error e) {
        fail(e);
      }
    }

    private void fail(Throwable t) {
      failure = t;
      call.cancel("the client could not read the stream", t);
    }

    @Override
    public void onClose(Status status, Metadata trailers) {
      if (root != null) {
        root.close();
      }
      Throwable error = failure;
      if (error == null && !status.isOk()) {
        error = status.asRuntimeException(trailers);
      }
      if (error != null) {
        out.values().forEach(TensorBatch::close);
        out.clear();
        result.completeExceptionally(error);
      } else {
        result.complete(out);
      }
    }

    /** Waits (uninterruptibly, a while) for onClose after a cancel, so nothing is left behind. */
    void awaitClose() {
      try {
        result.handle((r, t) -> null).get(10, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      } catch (ExecutionException | TimeoutException e) {
        // gave up waiting
      }
    }
  }

  /**
   * Stores {@code shards} (id to batch) in one DoPut, all or none. The stream declares its total
   * size up front (so a server whose cap it would pass refuses it before any shard is sent); it
   * fails with {@link DataPlaneTimeoutException} when the server accepts no next shard for the
   * stall deadline (plus the time the previous shard needs at the deadlines' slowest rate) or the
   * whole put passes its overall deadline, and the call is then cancelled.
   */
  public void put(Map<String, TensorBatch> shards) {
    long total = 0;
    for (TensorBatch b : shards.values()) {
      total += ShardCodec.encodedSize(b);
    }
    try (BufferAllocator scratch = allocator.newChildAllocator("put", 0, Long.MAX_VALUE);
        VectorSchemaRoot root = VectorSchemaRoot.create(FlightWire.SCHEMA, scratch)) {
      Duration overall = deadlines.overallFor(total);
      StallAwarePutListener ack = new StallAwarePutListener();
      FlightClient.ClientStreamListener listener =
          client.startPut(
              FlightDescriptor.command(FlightWire.putCommand(total)),
              root,
              ack,
              auth(deadlines.stall()),
              org.apache.arrow.flight.CallOptions.timeout(
                  overall.toMillis(), TimeUnit.MILLISECONDS));
      long previous = 0;
      for (Map.Entry<String, TensorBatch> e : shards.entrySet()) {
        long size = ShardCodec.encodedSize(e.getValue());
        try (ArrowBuf buf = scratch.buffer(size)) {
          ShardCodec.encodeInto(e.getValue(), buf);
          FlightWire.loadRow(root, e.getKey(), buf, 0, size, scratch);
          ack.awaitingNext(
              deadlines.stall().plus(deadlines.overallFor(previous)).minus(deadlines.base()));
          listener.putNext();
          previous = size;
        }
        if (ack.stalled()) {
          break;
        }
      }
      root.clear();
      if (ack.stalled()) {
        Duration allowed = ack.allowed();
        DataPlaneTimeoutException stalled =
            new DataPlaneTimeoutException(
                address,
                allowed,
                "put of "
                    + shards.size()
                    + " shard(s): the server accepted nothing for "
                    + allowed.toMillis()
                    + " ms (stall deadline): it is not answering");
        listener.error(stalled);
        throw stalled;
      }
      listener.completed();
      listener.getResult();
    } catch (FlightRuntimeException e) {
      throw map(e);
    }
  }

  /**
   * Arrow's put listener, whose {@link #isCancelled()} (which Arrow's {@code putNext} polls while
   * the transport is full) also ends the wait when the server has accepted nothing for the allowed
   * time, and parks briefly between polls instead of spinning a core.
   */
  private static final class StallAwarePutListener extends AsyncPutListener {
    private volatile long allowedNanos = Long.MAX_VALUE;
    private volatile long waitingSince;
    private volatile boolean waiting;
    private volatile boolean stalled;

    void awaitingNext(Duration allowed) {
      allowedNanos = allowed.toNanos();
      waiting = false;
    }

    boolean stalled() {
      return stalled;
    }

    Duration allowed() {
      return Duration.ofNanos(allowedNanos);
    }

    @Override
    public boolean isCancelled() {
      if (super.isCancelled() || stalled) {
        return true;
      }
      long now = System.nanoTime();
      if (!waiting) {
        waiting = true;
        waitingSince = now;
      } else if (now - waitingSince > allowedNanos) {
        stalled = true;
        return true;
      }
      LockSupport.parkNanos(50_000);
      return false;
    }
  }

  /** Sends raw bytes as shard {@code id}: for tests of the server's validation. */
  public void putRaw(String id, byte[] bytes) {
    try (BufferAllocator scratch = allocator.newChildAllocator("put", 0, Long.MAX_VALUE);
        VectorSchemaRoot root = VectorSchemaRoot.create(FlightWire.SCHEMA, scratch);
        ArrowBuf buf = scratch.buffer(Math.max(1, bytes.length))) {
      buf.setBytes(0, bytes);
      FlightClient.ClientStreamListener listener =
          client.startPut(
              FlightDescriptor.command(new byte[0]),
              root,
              new AsyncPutListener(),
              auth(deadlines.action()),
              actionTimeout());
      FlightWire.loadRow(root, id, buf, 0, bytes.length, scratch);
      listener.putNext();
      root.clear();
      listener.completed();
      listener.getResult();
    } catch (FlightRuntimeException e) {
      throw map(e);
    }
  }

  /**
   * Removes {@code ids} (in actions of at most {@link FlightWire#MAX_IDS} ids); returns the count
   * and the stats afterwards.
   */
  public ClearResult clear(List<String> ids) {
    long cleared = 0;
    JsonNode n = null;
    for (int from = 0; from < ids.size() || n == null; from += FlightWire.MAX_IDS) {
      List<String> part = ids.subList(from, Math.min(ids.size(), from + FlightWire.MAX_IDS));
      n = action(FlightWire.ACTION_CLEAR, FlightWire.encodeIds(part));
      cleared += n.get("cleared").asLong();
    }
    return new ClearResult(
        cleared, new StoreStats(address, n.get("entries").asLong(), n.get("bytes").asLong(), -1));
  }

  /** The server's entries, bytes and cap. */
  public StoreStats stats() {
    JsonNode n = action(FlightWire.ACTION_STATS, new byte[0]);
    return new StoreStats(
        address, n.get("entries").asLong(), n.get("bytes").asLong(), n.get("capBytes").asLong());
  }

  /**
   * Runs an action and parses its one JSON result, within the action deadline ({@link
   * DataPlaneDeadlines#action()}; past it: {@link DataPlaneTimeoutException}).
   */
  public JsonNode action(String type, byte[] body) {
    try {
      Iterator<Result> results =
          client.doAction(new Action(type, body), auth(deadlines.action()), actionTimeout());
      if (!results.hasNext()) {
        throw new DataPlaneException(address, "action " + type + " returned nothing");
      }
      JsonNode n = JSON.readTree(results.next().getBody());
      while (results.hasNext()) {
        results.next();
      }
      return n;
    } catch (FlightRuntimeException e) {
      throw map(e);
    } catch (IOException e) {
      throw new DataPlaneException(address, "action " + type + " returned bad JSON", e);
    }
  }

  private org.apache.arrow.flight.CallOption actionTimeout() {
    return org.apache.arrow.flight.CallOptions.timeout(
        deadlines.action().toMillis(), TimeUnit.MILLISECONDS);
  }

  /** Our exception for a Flight error status. */
  public DataPlaneException map(FlightRuntimeException e) {
    FlightStatusCode code = e.status().code();
    String what = e.status().description();
    if (what != null && what.contains(TlsOnly.MESSAGE)) {
      return new DataPlaneTlsException(
          address,
          "the peer serves TLS and this client connected in plaintext: the session's Flight TLS"
              + " setting differs between the two processes",
          e);
    }
    if (tls && code == FlightStatusCode.UNAVAILABLE) {
      Throwable ssl = sslCause(e);
      if (ssl != null) {
        return new DataPlaneTlsException(
            address,
            "TLS handshake failed ("
                + ssl
                + "): the peer must serve this session's certificate over TLS (another session's,"
                + " or plaintext, is refused)",
            e);
      }
    }
    return switch (code) {
      case UNAUTHENTICATED, UNAUTHORIZED -> {
        if (session != null) {
          session.invalidate();
        }
        yield new DataPlaneAuthException(address, "refused: " + what, e);
      }
      case NOT_FOUND -> {
        String ids =
            e.status().metadata().containsKey(FlightWire.MISSING_KEY)
                ? e.status().metadata().get(FlightWire.MISSING_KEY)
                : null;
        yield ids == null
            ? new DataPlaneException(address, "not found: " + what, e)
            : new MissingShardsException(Map.of(address, List.of(ids.split(","))));
      }
      case RESOURCE_EXHAUSTED -> new ShardStoreFullException(address, what);
      case INVALID_ARGUMENT -> new BadShardRequestException(address, what, e);
      case TIMED_OUT ->
          new DataPlaneTimeoutException(
              address, deadlines.action(), "no answer within the deadline: " + what);
      default -> new DataPlaneException(address, code + ": " + what, e);
    };
  }

  /** The TLS failure among {@code e}'s causes, or null. */
  private static Throwable sslCause(Throwable e) {
    for (Throwable c = e; c != null; c = c.getCause()) {
      if (c instanceof javax.net.ssl.SSLException
          || c instanceof io.netty.handler.ssl.NotSslRecordException) {
        // The deepest cause says why (an untrusted certificate, a record that is not TLS).
        Throwable why = c;
        while (why.getCause() != null && why.getCause() != why) {
          why = why.getCause();
        }
        return why;
      }
      if (c.getCause() == c) {
        break;
      }
    }
    return null;
  }

  /** True for errors worth retrying: the connection, not the request. */
  public static boolean isConnectionError(FlightRuntimeException e) {
    return e.status().code() == FlightStatusCode.UNAVAILABLE;
  }

  @Override
  public void close() {
    handshakes.shutdownNow();
    try {
      client.close();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      allocator.close();
    }
  }
}
