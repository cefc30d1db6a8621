package io.rtensor.jmh;

import io.rtensor.rtensor.RTensor;
import io.rtensor.rtensor.Remotizer;
import io.rtensor.runtime.SessionSecret;
import io.rtensor.tensor.Tensor;
import io.rtensor.transport.FlightDataPlane;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Fetching 1 GiB as 64 x 16 MiB shards from a worker JVM over loopback with the Flight data plane
 * ({@code flightFetch1GiB}), against the baseline of a raw socket copy of the same bytes between
 * the same two JVMs into fresh Arrow memory ({@code rawSocket1GiB}), in one run. The claim: flight
 * throughput at least 0.6x the baseline. Also {@code flightFetch10kSmallShards}: 10,000 shards of 4
 * KiB in one localization (shards per second = 10,000 / time).
 *
 * <p>Run: {@code java @etc/jvm.args -cp "jmh/target/classes:$(cat
 * jmh/target/runtime-classpath.txt)" org.openjdk.jmh.Main FlightFetchBenchmark}
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 4, time = 3)
@Fork(
    value = 1,
    jvmArgsAppend = {"-Xmx1g"})
public class FlightFetchBenchmark {
  private static final int SHARDS = 64;
  private static final long SHARD_BYTES = 16L << 20;
  private static final int SMALL = 10_000;

  private Process worker;
  private BufferAllocator root;
  private FlightDataPlane plane;
  private int socketPort;
  private List<RTensor> big;
  private List<RTensor> small;

  @Setup(Level.Trial)
  public void setUp() throws Exception {
    String secret = SessionSecret.generate().value();
    String rootDir = System.getProperty("rtensor.root", ".");
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.add("@" + Path.of(rootDir, "etc", "jvm.args"));
    String extra = System.getProperty("rtensor.bench.workerJvmArgs", "");
    for (String a : extra.split(" ")) {
      if (!a.isBlank()) {
        cmd.add(a);
      }
    }
    cmd.addAll(
        List.of(
            "-cp",
            System.getProperty("java.class.path"),
            FlightBenchWorker.class.getName(),
            Integer.toString(SHARDS),
            Long.toString(SHARD_BYTES),
            Integer.toString(SMALL)));
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT);
    pb.environment().put(SessionSecret.ENV, secret);
    worker = pb.start();
    String line = new BufferedReader(new InputStreamReader(worker.getInputStream())).readLine();
    if (line == null) {
      throw new IllegalStateException("bench worker died");
    }
    String flight = line.split(" ")[0].substring("flight=".length());
    socketPort = Integer.parseInt(line.split(" ")[1].substring("socket=".length()));
    root = new RootAllocator();
    plane =
        FlightDataPlane.builder(root, secret).putTarget(flight).bytesPerRequest(128L << 20).build();
    big = new ArrayList<>();
    for (int i = 0; i < SHARDS; i++) {
      big.add(handle(flight, "big-" + i, SHARD_BYTES));
    }
    small = new ArrayList<>();
    for (int i = 0; i < SMALL; i++) {
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

  @TearDown(Level.Trial)
  public void tearDown() throws Exception {
    plane.close();
    root.close();
    worker.getOutputStream().close();
    if (!worker.waitFor(10, TimeUnit.SECONDS)) {
      worker.destroyForcibly();
    }
  }

  @Benchmark
  public long flightFetch1GiB() {
    return fetchAndClose(big);
  }

  @Benchmark
  public long flightFetch10kSmallShards() {
    return fetchAndClose(small);
  }

  private long fetchAndClose(List<RTensor> handles) {
    List<?> local = (List<?>) new Remotizer(plane, null, root).localize(handles);
    long n = 0;
    for (Object o : local) {
      n += ((Tensor) o).byteSize();
      ((Tensor) o).close();
    }
    return n;
  }

  @Benchmark
  public long rawSocket1GiB() throws Exception {
    long n = 0;
    try (SocketChannel c = SocketChannel.open(new InetSocketAddress("127.0.0.1", socketPort))) {
      for (int i = 0; i < SHARDS; i++) {
        try (ArrowBuf buf = root.buffer(SHARD_BYTES)) {
          ByteBuffer b = buf.nioBuffer(0, (int) SHARD_BYTES);
          while (b.hasRemaining()) {
            if (c.read(b) < 0) {
              throw new IllegalStateException("socket closed early");
            }
          }
          n += SHARD_BYTES;
        }
      }
    }
    return n;
  }
}
