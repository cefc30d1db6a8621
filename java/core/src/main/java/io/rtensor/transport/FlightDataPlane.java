package io.rtensor.transport;

import io.rtensor.auth.SessionTls;
import io.rtensor.handle.RTensor;
import io.rtensor.handle.ShardLocation;
import io.rtensor.memory.BlockPool;
import io.rtensor.tensor.TensorBatch;
import io.rtensor.transport.internal.FlightShardClient;
import io.rtensor.transport.internal.FlightWire;
import io.rtensor.transport.internal.SameNodeFetcher;
import io.rtensor.wire.DecodeLimits;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import org.apache.arrow.flight.FlightRuntimeException;
import org.apache.arrow.memory.BufferAllocator;

/**
 * The Flight data plane of one process: shards live in the workers' {@link FlightShardServer}s and
 * travel worker to worker over Arrow Flight.
 *
 * <p>A worker's plane owns its local server ({@link Builder#localServer}): its puts store locally
 * and its fetches of its own shards read them in place. A process without a server (the controller)
 * puts to a chosen worker ({@link Builder#putTarget}). Fetches are split into requests of at most
 * {@link Builder#shardsPerRequest} shards and {@link Builder#bytesPerRequest} bytes and run
 * concurrently ({@link Builder#concurrency}) across and within workers; a request that fails to
 * connect is retried with exponential backoff, any other error is not.
 *
 * <p>Every call has deadlines ({@link Builder#deadlines}, {@link DataPlaneDeadlines}): a fetch
 * fails with {@link FetchStalledException} when a peer sends nothing for the stall deadline and
 * with {@link FetchTimeoutException} past its overall deadline (proportional to the bytes asked
 * for), naming the peer and the shards; the request is then cancelled and its thread freed.
 *
 * <p>The bytes of a fetched shard are copied once in user space: the server hands its stored
 * buffers to gRPC without copying (Flight's zero-copy write), and the client reads each DoGet
 * message body from gRPC's receive buffers straight into the destination allocator, where the
 * decoded tensors slice it (see {@code internal.DoGetReader}). Everything else is plain Flight:
 * DoGet of a ticket of shard ids, a session token on every call (from a mutual handshake over each
 * connection, see {@link io.rtensor.auth.SessionAuth}). Bodies of 1 MiB and more land in blocks of
 * the plane's {@link BlockPool}, kept when freed and reused by later fetches ({@link
 * Builder#keepFreedBytes}).
 *
 * <p>Requests of at least {@link #BULK_MIN_BYTES} go through the server's bulk side channel where
 * it has one ({@link Builder#bulkChannel}; negotiated by a Flight action on the authenticated
 * session, presenting the session's token, never over TLS): each shard is its length and its stored
 * bytes on a plain TCP stream, read once into the same Arrow memory and checked against the same
 * limits, with the same deadlines and errors as DoGet.
 */
public final class FlightDataPlane implements DataPlane {
  private final BufferAllocator allocator;
  private final String secret;
  private final FlightShardServer localServer;
  private final String putTarget;
  private final int shardsPerRequest;
  private final long bytesPerRequest;
  private final int maxAttempts;
  private final long backoffMillis;
  private final DecodeLimits limits;
  private final DataPlaneDeadlines deadlines;
  private final ExecutorService executor;
  private final BlockPool blocks;
  private final BlockPool receivePool; // null: bodies land in plain buffers of the target allocator
  private final SessionTls tls;
  private final boolean bulkChannel;
  private final Map<String, FlightShardClient> clients = new ConcurrentHashMap<>();
  private final SameNodeFetcher sameNode; // null: every fetch goes over Flight

  /** Requests of at least this many bytes use a server's bulk side channel, where it has one. */
  public static final long BULK_MIN_BYTES = 1L << 20;

  /** How long a fetch waits for a request past the fetch's deadline (the request's cancel). */
  private static final long AWAIT_SLACK_NANOS = TimeUnit.SECONDS.toNanos(15);

  private FlightDataPlane(Builder b) {
    this.allocator = b.allocator.newChildAllocator("flight-data-plane", 0, Long.MAX_VALUE);
    this.secret = b.secret;
    this.localServer = b.localServer;
    this.putTarget = b.localServer != null ? b.localServer.address() : b.putTarget;
    this.shardsPerRequest = b.shardsPerRequest;
    this.bytesPerRequest = b.bytesPerRequest;
    this.maxAttempts = b.maxAttempts;
    this.backoffMillis = b.backoffMillis;
    this.limits = b.limits;
    this.deadlines = b.deadlines != null ? b.deadlines : DataPlaneDeadlines.fromEnvironment();
    this.blocks = new BlockPool(b.keepFreedBytes);
    this.receivePool = b.receiveInAllocator ? null : blocks;
    this.tls = b.tls == null ? null : b.tls.trustOnly();
    this.bulkChannel = b.bulkChannel;
    this.sameNode =
        b.sameNode
            ? new SameNodeFetcher(
                io.rtensor.runtime.SessionSecret.of(secret)
                    .key(io.rtensor.runtime.SessionSecret.DATA_PLANE),
                limits,
                receivePool)
            : null;
    AtomicInteger n = new AtomicInteger();
    this.executor =
        Executors.newFixedThreadPool(
            b.concurrency,
            r -> {
              Thread t = new Thread(r, "flight-fetch-" + n.incrementAndGet());
              t.setDaemon(true);
              return t;
            });
  }

  /** A builder; {@code allocator} is the process's, {@code secret} the session's. */
  public static Builder builder(BufferAllocator allocator, String secret) {
    return new Builder(allocator, secret);
  }

  @Override
  public DataPlaneKind kind() {
    return DataPlaneKind.FLIGHT;
  }

  @Override
  public String putLocation() {
    return putTarget;
  }

  @Override
  public RTensor put(TensorBatch batch) {
    if (putTarget == null) {
      throw new IllegalStateException(
          "this Flight data plane has no local server and no put target");
    }
    String id = UUID.randomUUID().toString();
    if (localServer != null) {
      localServer.putLocal(id, batch);
    } else {
      withRetries(
          putTarget,
          c -> {
            c.put(Map.of(id, batch));
            return null;
          });
    }
    return RTensor.ofBatch(id, ShardLocation.flight(putTarget), batch);
  }

  /**
   * Stores the shard in this worker's own store, its bytes written there in place (see {@link
   * ShardWriter}); a plane without a local server sends it to its put target from a temporary
   * batch.
   */
  @Override
  public RTensor put(ShardWriter shard) {
    if (localServer == null) {
      return DataPlane.super.put(shard);
    }
    String id = UUID.randomUUID().toString();
    localServer.putLocal(id, shard);
    return RTensor.ofBatch(id, ShardLocation.flight(putTarget), shard.columns(), shard.rows());
  }

  /** True for a worker's plane (one with its own store). */
  @Override
  public boolean defersPuts() {
    return localServer != null;
  }

  /**
   * Registers the shard in this worker's own store, written there only when first fetched, {@code
   * source} kept until it is cleared (see {@link DataPlane#putDeferred}); a plane without a local
   * server stores it at once.
   */
  @Override
  public RTensor putDeferred(ShardWriter shard, AutoCloseable source) {
    if (localServer == null) {
      return DataPlane.super.putDeferred(shard, source);
    }
    String id = UUID.randomUUID().toString();
    try {
      localServer.putLocalDeferred(id, shard, source);
    } catch (RuntimeException e) {
      try {
        source.close();
      } catch (Exception closeFailure) {
        e.addSuppressed(closeFailure);
      }
      throw e;
    }
    return RTensor.ofBatch(id, ShardLocation.flight(putTarget), shard.columns(), shard.rows());
  }

  @Override
  public Map<String, TensorBatch> fetch(Collection<RTensor> handles, BufferAllocator target) {
    return fetch(handles, target, false);
  }

  /**
   * {@link DataPlane#fetchReadOnly}: shards a store on this node keeps in shared memory are mapped
   * read-only, not copied (each batch holds its mapping, even past a clear, until closed); the
   * others are fetched and returned as read-only views.
   */
  @Override
  public Map<String, TensorBatch> fetchReadOnly(
      Collection<RTensor> handles, BufferAllocator target) {
    return DataPlane.readOnly(fetch(handles, target, true));
  }

  private Map<String, TensorBatch> fetch(
      Collection<RTensor> handles, BufferAllocator target, boolean readOnly) {
    // Each location's ids, once each, in the order first named (a set: many small shards stay
    // linear).
    Map<String, Set<String>> byLocation = new LinkedHashMap<>();
    Map<String, Long> sizes = new java.util.HashMap<>();
    long totalBytes = 0;
    for (RTensor h : handles) {
      if (sizes.put(h.shardId(), h.byteSize()) == null) {
        totalBytes += Math.max(0, h.byteSize());
      }
      if (h.location().plane() != ShardLocation.Plane.FLIGHT) {
        throw new IllegalArgumentException(h + " is not a Flight shard");
      }
      byLocation.computeIfAbsent(h.location().key(), k -> new LinkedHashSet<>()).add(h.shardId());
    }
    Map<String, TensorBatch> out = new LinkedHashMap<>();
    Map<String, List<String>> missing = new LinkedHashMap<>();
    RuntimeException failure = null;
    // One overall deadline for the whole fetch, however its requests are queued and retried.
    long start = System.nanoTime();
    long deadline = start + deadlines.overallFor(totalBytes).toNanos();
    List<CompletableFuture<Map<String, TensorBatch>>> futures = new ArrayList<>();
    List<String> futureLocations = new ArrayList<>();
    List<List<String>> futureIds = new ArrayList<>();
    for (Map.Entry<String, Set<String>> e : byLocation.entrySet()) {
      String location = e.getKey();
      List<String> ids = new ArrayList<>(e.getValue());
      if (localServer != null && location.equals(localServer.address())) {
        for (String id : ids) {
          TensorBatch b = localServer.getLocal(id, target);
          if (b == null) {
            missing.computeIfAbsent(location, k -> new ArrayList<>()).add(id);
          } else {
            out.put(id, b);
          }
        }
        continue;
      }
      for (List<String> chunk : chunks(ids, sizes)) {
        boolean bulk =
            bulkChannel
                && chunk.stream().mapToLong(id -> Math.max(0, sizes.get(id))).sum()
                    >= BULK_MIN_BYTES;
        futures.add(
            CompletableFuture.supplyAsync(
                () ->
                    withRetries(
                        location,
                        deadline,
                        chunk,
                        c ->
                            sameNode == null
                                ? overSockets(c, chunk, bulk, target, deadline)
                                : sameNode.fetch(
                                    c,
                                    chunk,
                                    sizes,
                                    target,
                                    readOnly,
                                    deadlines.stall(),
                                    rest -> overSockets(c, rest, bulk, target, deadline))),
                executor));
        futureLocations.add(location);
        futureIds.add(chunk);
      }
    }
    for (int i = 0; i < futures.size(); i++) {
      try {
        // Each request ends by its own deadlines; the slack covers its cancellation. Waiting
        // longer would mean a request that ignores them: give up on it (and free what it returns).
        long wait = deadline - System.nanoTime() + AWAIT_SLACK_NANOS;
        out.putAll(futures.get(i).get(Math.max(0, wait), TimeUnit.NANOSECONDS));
      } catch (TimeoutException e) {
        futures.get(i).thenAccept(m -> m.values().forEach(TensorBatch::close));
        if (failure == null) {
          failure =
              new FetchTimeoutException(
                  futureLocations.get(i),
                  futureIds.get(i),
                  Duration.ofNanos(deadline - start),
                  "a request to " + futureLocations.get(i) + " outlived the fetch's deadline");
        }
      } catch (ExecutionException e) {
        if (unwrap(e) instanceof MissingShardsException m) {
          m.missingByLocation()
              .forEach((l, ids) -> missing.computeIfAbsent(l, k -> new ArrayList<>()).addAll(ids));
        } else if (failure == null) {
          Throwable cause = unwrap(e);
          failure =
              cause instanceof RuntimeException r
                  ? r
                  : new DataPlaneException(futureLocations.get(i), "fetch failed", cause);
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        futures.get(i).thenAccept(m -> m.values().forEach(TensorBatch::close));
        if (failure == null) {
          failure = new DataPlaneException(futureLocations.get(i), "interrupted", e);
        }
      }
    }
    if (failure != null || !missing.isEmpty()) {
      out.values().forEach(TensorBatch::close);
      throw failure != null ? failure : new MissingShardsException(missing);
    }
    return out;
  }

  /** {@code ids} over a socket: the bulk side channel where {@code bulk}, else DoGet. */
  private Map<String, TensorBatch> overSockets(
      FlightShardClient c, List<String> ids, boolean bulk, BufferAllocator target, long deadline) {
    return bulk
        ? c.getBulk(ids, target, limits, deadlines.stall(), deadline)
        : c.get(ids, target, limits, deadlines.stall(), deadline);
  }

  private static Throwable unwrap(ExecutionException e) {
    return e.getCause() instanceof CompletionException c ? c.getCause() : e.getCause();
  }

  /**
   * {@code ids} in order, cut into requests of at most {@link Builder#shardsPerRequest} shards and
   * {@link Builder#bytesPerRequest} bytes (a larger shard goes alone).
   */
  private List<List<String>> chunks(List<String> ids, Map<String, Long> sizes) {
    List<List<String>> out = new ArrayList<>();
    int start = 0;
    long bytes = 0;
    for (int i = 0; i < ids.size(); i++) {
      long size = Math.max(0, sizes.getOrDefault(ids.get(i), 0L));
      if (i > start && (i - start >= shardsPerRequest || bytes + size > bytesPerRequest)) {
        out.add(ids.subList(start, i));
        start = i;
        bytes = 0;
      }
      bytes += size;
    }
    if (start < ids.size()) {
      out.add(ids.subList(start, ids.size()));
    }
    return out;
  }

  @Override
  public ClearResult clear(String locationKey, Collection<String> shardIds) {
    List<String> ids = List.copyOf(new java.util.LinkedHashSet<>(shardIds));
    if (localServer != null && locationKey.equals(localServer.address())) {
      long n = ids.isEmpty() ? 0 : localServer.removeLocal(ids);
      return new ClearResult(n, localServer.stats());
    }
    if (ids.isEmpty()) {
      return new ClearResult(0, stats(locationKey));
    }
    return withRetries(locationKey, c -> c.clear(ids));
  }

  @Override
  public StoreStats stats(String locationKey) {
    if (localServer != null && locationKey.equals(localServer.address())) {
      return localServer.stats();
    }
    return withRetries(locationKey, FlightShardClient::stats);
  }

  @Override
  public void onShardsRemoved(Consumer<Collection<String>> listener) {
    if (localServer != null) {
      localServer.onShardsRemoved(listener);
    }
  }

  /** The pool fetched bodies of 1 MiB and more are received into (for its counts and bound). */
  public BlockPool blockPool() {
    return blocks;
  }

  /** Closes the connections (not the local server, which its creator owns). */
  @Override
  public void close() {
    executor.shutdownNow();
    clients.values().forEach(FlightShardClient::close);
    clients.clear();
    blocks.close();
    allocator.close();
  }

  private FlightShardClient client(String location) {
    return clients.computeIfAbsent(
        location, l -> new FlightShardClient(l, allocator, secret, receivePool, deadlines, tls));
  }

  private interface Call<T> {
    T run(FlightShardClient client);
  }

  private <T> T withRetries(String location, Call<T> call) {
    return withRetries(location, Long.MAX_VALUE, null, call);
  }

  /**
   * Runs {@code call}, retrying connection failures with backoff; with {@code ids} (a fetch), no
   * retry starts past {@code deadline} ({@link System#nanoTime()} clock): the fetch then fails with
   * {@link FetchTimeoutException}.
   */
  private <T> T withRetries(String location, long deadline, List<String> ids, Call<T> call) {
    long start = System.nanoTime();
    for (int attempt = 1; ; attempt++) {
      try {
        return call.run(client(location));
      } catch (DataPlaneException e) {
        boolean connection =
            !(e instanceof DataPlaneTlsException)
                && e.getCause() instanceof FlightRuntimeException f
                && FlightShardClient.isConnectionError(f);
        if (!connection || attempt >= maxAttempts) {
          throw connection
              ? new DataPlaneException(
                  location, "unreachable after " + attempt + " attempts: " + e.getMessage(), e)
              : e;
        }
      }
      long backoff = TimeUnit.MILLISECONDS.toNanos(backoffMillis << Math.min(attempt - 1, 10));
      if (ids != null && deadline - System.nanoTime() < backoff) {
        throw new FetchTimeoutException(
            location,
            ids,
            Duration.ofNanos(deadline - start),
            location + " was unreachable for " + attempt + " attempts until the fetch's deadline");
      }
      try {
        TimeUnit.NANOSECONDS.sleep(backoff);
      } catch (InterruptedException ie) {
        Thread.currentThread().interrupt();
        throw new DataPlaneException(location, "interrupted while retrying", ie);
      }
    }
  }

  /** Options of a {@link FlightDataPlane}. */
  public static final class Builder {
    private final BufferAllocator allocator;
    private final String secret;
    private FlightShardServer localServer;
    private String putTarget;
    private int shardsPerRequest = 1024;
    private long bytesPerRequest = 256L << 20;
    private int concurrency = 8;
    private int maxAttempts = 4;
    private long backoffMillis = 50;
    private DecodeLimits limits = DecodeLimits.DEFAULT;
    private long keepFreedBytes = BlockPool.DEFAULT_MAX_IDLE;
    private boolean receiveInAllocator;
    private DataPlaneDeadlines deadlines;
    private SessionTls tls;
    private boolean bulkChannel = true;
    private boolean sameNode = true;

    private Builder(BufferAllocator allocator, String secret) {
      this.allocator = Objects.requireNonNull(allocator, "allocator");
      this.secret = Objects.requireNonNull(secret, "secret");
    }

    /** This process's own server (a worker): puts store there. Its creator closes it. */
    public Builder localServer(FlightShardServer server) {
      this.localServer = server;
      return this;
    }

    /** Where puts go when there is no local server: a worker's {@code host:port}. */
    public Builder putTarget(String address) {
      this.putTarget = ShardLocation.flight(address).key();
      return this;
    }

    /**
     * Most bytes of shards one DoGet asks for (default 256 MiB; a larger shard goes alone), so a
     * large fetch is spread over concurrent requests. The requests to one worker share its
     * connection, where the server splits its sends evenly between them: a few large requests
     * finish messages sooner than many small ones (1 GiB from one worker: 4 requests of 256 MiB
     * measured faster than 8 of 128 MiB or 16 of 64 MiB on a 2-core VM).
     */
    public Builder bytesPerRequest(long bytes) {
      if (bytes < 1) {
        throw new IllegalArgumentException("bytesPerRequest must be >= 1");
      }
      this.bytesPerRequest = bytes;
      return this;
    }

    /** Most shards one DoGet asks for (default 1024; at most {@link FlightWire#MAX_IDS}). */
    public Builder shardsPerRequest(int n) {
      if (n < 1 || n > FlightWire.MAX_IDS) {
        throw new IllegalArgumentException(
            "shardsPerRequest must be in [1, " + FlightWire.MAX_IDS + "], got " + n);
      }
      this.shardsPerRequest = n;
      return this;
    }

    /** Requests in flight at once across all workers (default 8). */
    public Builder concurrency(int n) {
      if (n < 1) {
        throw new IllegalArgumentException("concurrency must be >= 1");
      }
      this.concurrency = n;
      return this;
    }

    /** Attempts per request when the connection fails (default 4), backoff doubling from 50 ms. */
    public Builder retries(int maxAttempts, long backoffMillis) {
      this.maxAttempts = Math.max(1, maxAttempts);
      this.backoffMillis = Math.max(0, backoffMillis);
      return this;
    }

    /** Decoder limits for fetched shards. */
    public Builder limits(DecodeLimits limits) {
      this.limits = Objects.requireNonNull(limits);
      return this;
    }

    /**
     * Most bytes of freed fetch buffers (1 MiB and up) the plane keeps to receive later fetches
     * into (default 1 GiB; 0 keeps none): repeated fetches of similar sizes then reuse memory
     * instead of faulting in fresh pages. The kept blocks are freed when the plane closes. See
     * {@link BlockPool}.
     */
    public Builder keepFreedBytes(long bytes) {
      if (bytes < 0) {
        throw new IllegalArgumentException("keepFreedBytes must be >= 0");
      }
      this.keepFreedBytes = bytes;
      return this;
    }

    /**
     * Fetched bodies land in buffers of the allocator a fetch decodes into, never in the {@link
     * BlockPool}: for a worker whose allocator is page-locked ({@code
     * io.rtensor.device.arrow.PinnedAllocators}, whose pool keeps freed blocks itself), so a
     * fetched tensor is the direct source of a host-to-device DMA.
     */
    public Builder receiveInAllocator() {
      this.receiveInAllocator = true;
      return this;
    }

    /**
     * How long calls wait on a peer: stall and overall deadlines of fetches and puts, and the
     * deadline of clears and stats (default: {@link DataPlaneDeadlines#fromEnvironment()}, which is
     * {@link DataPlaneDeadlines#DEFAULT} unless the process's environment sets them).
     */
    public Builder deadlines(DataPlaneDeadlines deadlines) {
      this.deadlines = Objects.requireNonNull(deadlines, "deadlines");
      return this;
    }

    /**
     * Connect to the session's shard servers over TLS, trusting only the session's certificate
     * ({@link SessionTls}; the key is not needed); null (the default) connects in plaintext. Every
     * server of the session must then serve that certificate ({@link
     * FlightShardServer.Builder#tls}).
     */
    public Builder tls(SessionTls tls) {
      this.tls = tls;
      return this;
    }

    /**
     * Whether large requests use a server's bulk side channel where it has one (default true);
     * false fetches everything through DoGet.
     */
    public Builder bulkChannel(boolean on) {
      this.bulkChannel = on;
      return this;
    }

    /**
     * Whether shards of stores on this node come through shared memory (default true; see {@code
     * transport.internal.SameNodeFetcher}); false fetches every shard over a socket.
     */
    public Builder sameNode(boolean on) {
      this.sameNode = on;
      return this;
    }

    public FlightDataPlane build() {
      return new FlightDataPlane(this);
    }
  }
}
