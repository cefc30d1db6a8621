package io.rtensor.bench;

import io.rtensor.auth.SessionTls;
import io.rtensor.handle.RTensor;
import io.rtensor.runtime.JvmFlags;
import io.rtensor.runtime.SessionSecret;
import io.rtensor.tensor.Tensor;
import io.rtensor.transport.FlightDataPlane;
import io.rtensor.transport.Remotizer;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;

/**
 * Fetching shards from a worker JVM ({@link FlightBenchWorker}) over loopback with the Flight data
 * plane ({@link #flightFetch}), against the baseline of a raw Java socket copy of the same bytes
 * between the same two JVMs into fresh Arrow memory ({@link #rawSocket}). The claim: Flight
 * throughput at least 0.9x the baseline. Also {@link #flightFetchSmall}: many 4 KiB shards in one
 * localization, and {@link #flightFetchTls}: the same fetch over TLS.
 */
public final class FlightWorkload implements AutoCloseable {
  /** Throughput of {@link #flightFetch} over {@link #rawSocket} the project aims for. */
  public static final double GOAL = 0.9;

  /** Throughput of {@link #sameNodeFetch} over {@link #rawSocket} the project aims for. */
  public static final double SAME_NODE_GOAL = 1.5;

  /** Throughput of {@link #flightFetchSmall} over {@link #rawSocketSmall} the project aims for. */
  public static final double SMALL_GOAL = 0.4;

  /**
   * Throughput of {@link #flightFetch} over {@link #rawSocket} between two node IPs, 16 large
   * shards ({@code ./rtensor bench}'s {@code flight-cross-node}), the project aims for.
   */
  public static final double CROSS_NODE_GOAL = 0.9;

  private final int shards;
  private final long shardBytes;
  private final Process worker;
  private final BufferAllocator root;
  private final FlightDataPlane plane;
  private final FlightDataPlane sameNodePlane;
  private final String serverHost;
  private final String clientHost;
  private final FlightDataPlane tlsPlane;
  private final List<RTensor> bigTls = new ArrayList<>();
  private final int socketPort;
  private final List<RTensor> big = new ArrayList<>();
  private final List<RTensor> small = new ArrayList<>();

  /**
   * Starts the worker JVM holding {@code shards} float32 shards of {@code shardBytes} bytes (a
   * multiple of 4) and {@code smallShards} shards of 4 KiB; {@code workerJvmArgs} are extra flags
   * for it (after the project's own).
   */
  public FlightWorkload(int shards, long shardBytes, int smallShards, List<String> workerJvmArgs)
      throws IOException {
    this(shards, shardBytes, smallShards, workerJvmArgs, "127.0.0.1", null, false);
  }

  /**
   * As {@link #FlightWorkload(int, long, int, List)}; with {@code tls} the worker also serves the
   * big shards over TLS (a session certificate made here) for {@link #flightFetchTls}.
   */
  public FlightWorkload(
      int shards, long shardBytes, int smallShards, List<String> workerJvmArgs, boolean tls)
      throws IOException {
    this(shards, shardBytes, smallShards, workerJvmArgs, "127.0.0.1", null, tls);
  }

  /**
   * As {@link #FlightWorkload(int, long, int, List)}, the worker's Flight server and raw socket
   * server bound to (and its Flight server advertising) {@code serverHost}, an address of this
   * machine, and the baseline's client socket bound to {@code clientHost} before it connects (null:
   * the address the kernel picks). The Flight client's connections leave from the address the
   * kernel's route to {@code serverHost} names (for 127.0.0.2 on Linux: 127.0.0.1).
   */
  public FlightWorkload(
      int shards,
      long shardBytes,
      int smallShards,
      List<String> workerJvmArgs,
      String serverHost,
      String clientHost)
      throws IOException {
    this(shards, shardBytes, smallShards, workerJvmArgs, serverHost, clientHost, false);
  }

  private FlightWorkload(
      int shards,
      long shardBytes,
      int smallShards,
      List<String> workerJvmArgs,
      String serverHost,
      String clientHost,
      boolean tls)
      throws IOException {
    if (shards < 1 || shardBytes < 4 || shardBytes % 4 != 0 || shardBytes > Integer.MAX_VALUE) {
      throw new IllegalArgumentException(
          shards + " shards of " + shardBytes + " bytes: need at least one shard, 4-byte multiple");
    }
    this.shards = shards;
    this.shardBytes = shardBytes;
    this.serverHost = serverHost;
    this.clientHost = clientHost;
    String secret = SessionSecret.generate().value();
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.addAll(JvmFlags.list());
    cmd.addAll(workerJvmArgs);
    cmd.addAll(
        List.of(
            "-cp",
            System.getProperty("java.class.path"),
            FlightBenchWorker.class.getName(),
            Integer.toString(shards),
            Long.toString(shardBytes),
            Integer.toString(smallShards),
            serverHost));
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT);
    pb.environment().put(SessionSecret.ENV, secret);
    SessionTls identity = tls ? SessionTls.generate() : null;
    if (identity != null) {
      pb.environment().put(SessionTls.ENV, identity.encode());
    }
    worker = pb.start();
    String line =
        new BufferedReader(new InputStreamReader(worker.getInputStream(), StandardCharsets.UTF_8))
            .readLine();
    if (line == null || !line.startsWith("flight=")) {
      worker.destroyForcibly();
      throw new IOException("the Flight bench worker did not start (it printed: " + line + ")");
    }
    String flight = line.split(" ")[0].substring("flight=".length());
    socketPort = Integer.parseInt(line.split(" ")[1].substring("socket=".length()));
    root = new RootAllocator();
    // The Flight rows measure the socket: same-node fetches are the same-node row's alone.
    plane = FlightDataPlane.builder(root, secret).putTarget(flight).sameNode(false).build();
    sameNodePlane = FlightDataPlane.builder(root, secret).putTarget(flight).build();
    for (int i = 0; i < shards; i++) {
      big.add(handle(flight, "big-" + i, shardBytes));
    }
    if (identity != null) {
      String[] parts = line.split(" ");
      if (parts.length < 3 || !parts[2].startsWith("flight-tls=")) {
        worker.destroyForcibly();
        throw new IOException("the Flight bench worker serves no TLS (it printed: " + line + ")");
      }
      String address = parts[2].substring("flight-tls=".length());
      tlsPlane =
          FlightDataPlane.builder(root, secret)
              .putTarget(address)
              .tls(identity.trustOnly())
              .sameNode(false)
              .build();
      for (int i = 0; i < shards; i++) {
        bigTls.add(handle(address, "big-" + i, shardBytes));
      }
    } else {
      tlsPlane = null;
    }
    for (int i = 0; i < smallShards; i++) {
      small.add(handle(flight, "small-" + i, 4096));
    }
  }

  private static RTensor handle(String address, String id, long bytes) {
    return RTensor.fromJson(
        "{\"shardId\":\""
            + id
            + "\",\"location\":\""
            + address
            + "\",\"kind\":\"TENSOR\",\"dtype\":\"float32\",\"shape\":["
            + bytes / 4
            + "],\"byteSize\":"
            + bytes
            + ",\"columns\":[\"tensor\"]}");
  }

  /** Bytes one {@link #flightFetch} or {@link #rawSocket} moves. */
  public long bytes() {
    return shards * shardBytes;
  }

  /** Number of shards {@link #flightFetch} fetches. */
  public int shards() {
    return shards;
  }

  /** Localizes every big shard in one batch over Flight, then frees the local copies. */
  public long flightFetch() {
    return fetchAndClose(big);
  }

  /**
   * As {@link #flightFetch}, the same shards over TLS (needs a workload made with {@code tls}): the
   * subject of the {@code flight-tls} comparison, whose baseline is {@link #flightFetch}.
   */
  public long flightFetchTls() {
    if (tlsPlane == null) {
      throw new IllegalStateException("this workload was made without TLS");
    }
    return fetchAndClose(tlsPlane, bigTls);
  }

  /**
   * Localizes every big shard in one batch through shared memory (the worker is on this node), one
   * copy each into this JVM's memory, then frees the copies: the subject of the {@code same-node}
   * comparison, whose baseline is {@link #rawSocket}.
   */
  public long sameNodeFetch() {
    return fetchAndClose(sameNodePlane, big);
  }

  /** Localizes every 4 KiB shard in one batch over Flight. */
  public long flightFetchSmall() {
    return fetchAndClose(small);
  }

  private long fetchAndClose(List<RTensor> handles) {
    return fetchAndClose(plane, handles);
  }

  private long fetchAndClose(FlightDataPlane through, List<RTensor> handles) {
    List<?> local = (List<?>) new Remotizer(through, null, root).localize(handles);
    long n = 0;
    for (Object o : local) {
      n += ((Tensor) o).byteSize();
      ((Tensor) o).close();
    }
    return n;
  }

  /** Baseline: the same bytes over one plain socket, read into fresh Arrow buffers per shard. */
  public long rawSocket() throws IOException {
    long n = 0;
    try (SocketChannel c = openRaw(FlightBenchWorker.BIG)) {
      for (int i = 0; i < shards; i++) {
        try (ArrowBuf buf = root.buffer(shardBytes)) {
          ByteBuffer b = buf.nioBuffer(0, (int) shardBytes);
          while (b.hasRemaining()) {
            if (c.read(b) < 0) {
              throw new IOException("the bench worker's socket closed early");
            }
          }
          n += shardBytes;
        }
      }
    }
    return n;
  }

  /**
   * Baseline of {@link #flightFetchSmall}: the same 4 KiB shards as length-prefixed messages in one
   * plain socket stream from the same worker JVM, each read into its own fresh Arrow buffer (as a
   * fetch gives each shard its own tensor). Reads through a 64 KiB buffer, as any client of such a
   * protocol would, so a message costs no system call of its own.
   */
  public long rawSocketSmall() throws IOException {
    long n = 0;
    try (SocketChannel c = openRaw(FlightBenchWorker.SMALL)) {
      ByteBuffer in = ByteBuffer.allocateDirect(64 << 10).flip();
      for (int i = 0; i < small.size(); i++) {
        fill(c, in, 4);
        int length = in.getInt();
        if (length != 4096) {
          throw new IOException("message " + i + " says " + length + " bytes, not 4096");
        }
        try (ArrowBuf buf = root.buffer(length)) {
          ByteBuffer body = buf.nioBuffer(0, length);
          while (body.hasRemaining()) {
            fill(c, in, 1);
            int take = Math.min(in.remaining(), body.remaining());
            ByteBuffer slice = in.slice(in.position(), take);
            body.put(slice);
            in.position(in.position() + take);
          }
          n += length;
        }
      }
    }
    return n;
  }

  /** Reads from {@code c} until {@code in} (in read mode) holds at least {@code need} bytes. */
  private static void fill(SocketChannel c, ByteBuffer in, int need) throws IOException {
    if (in.remaining() >= need) {
      return;
    }
    in.compact();
    while (in.position() < need) {
      if (c.read(in) < 0) {
        throw new IOException("the bench worker's socket closed early");
      }
    }
    in.flip();
  }

  /**
   * A connection to the worker's raw socket server (from {@code clientHost} where one is set) that
   * has sent its mode byte.
   */
  private SocketChannel openRaw(byte mode) throws IOException {
    SocketChannel c = SocketChannel.open();
    try {
      if (clientHost != null) {
        c.bind(new InetSocketAddress(clientHost, 0));
      }
      c.connect(new InetSocketAddress(serverHost, socketPort));
      ByteBuffer b = ByteBuffer.wrap(new byte[] {mode});
      while (b.hasRemaining()) {
        c.write(b);
      }
      return c;
    } catch (IOException | RuntimeException e) {
      c.close();
      throw e;
    }
  }

  /** Bytes one {@link #flightFetchSmall} or {@link #rawSocketSmall} moves. */
  public long smallBytes() {
    return small.size() * 4096L;
  }

  /** Number of 4 KiB shards {@link #flightFetchSmall} fetches. */
  public int smallShards() {
    return small.size();
  }

  @Override
  public void close() throws Exception {
    try {
      plane.close();
      sameNodePlane.close();
      if (tlsPlane != null) {
        tlsPlane.close();
      }
      root.close();
    } finally {
      worker.getOutputStream().close();
      if (!worker.waitFor(10, TimeUnit.SECONDS)) {
        worker.destroyForcibly();
      }
    }
  }
}
