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
 * throughput at least 0.6x the baseline. Also {@link #flightFetchSmall}: many 4 KiB shards in one
 * localization, and {@link #flightFetchTls}: the same fetch over TLS.
 */
public final class FlightWorkload implements AutoCloseable {
  /** Throughput of {@link #flightFetch} over {@link #rawSocket} the project aims for. */
  public static final double GOAL = 0.6;

  private final int shards;
  private final long shardBytes;
  private final Process worker;
  private final BufferAllocator root;
  private final FlightDataPlane plane;
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
    this(shards, shardBytes, smallShards, workerJvmArgs, false);
  }

  /**
   * As {@link #FlightWorkload(int, long, int, List)}; with {@code tls} the worker also serves the
   * big shards over TLS (a session certificate made here) for {@link #flightFetchTls}.
   */
  public FlightWorkload(
      int shards, long shardBytes, int smallShards, List<String> workerJvmArgs, boolean tls)
      throws IOException {
    if (shards < 1 || shardBytes < 4 || shardBytes % 4 != 0 || shardBytes > Integer.MAX_VALUE) {
      throw new IllegalArgumentException(
          shards + " shards of " + shardBytes + " bytes: need at least one shard, 4-byte multiple");
    }
    this.shards = shards;
    this.shardBytes = shardBytes;
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
            Integer.toString(smallShards)));
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
    plane = FlightDataPlane.builder(root, secret).putTarget(flight).build();
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
    try (SocketChannel c = SocketChannel.open(new InetSocketAddress("127.0.0.1", socketPort))) {
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

  @Override
  public void close() throws Exception {
    try {
      plane.close();
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
