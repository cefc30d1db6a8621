package io.rtensor.transport;

import io.rtensor.auth.SessionTls;
import io.rtensor.handle.RTensor;
import io.rtensor.runtime.SessionSecret;
import io.rtensor.tensor.DType;
import io.rtensor.tensor.Shape;
import io.rtensor.tensor.Tensor;
import io.rtensor.tensor.TensorBatch;
import java.io.InputStream;
import org.apache.arrow.memory.AllocationListener;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.memory.rounding.SegmentRoundingPolicy;

/**
 * A process that only serves shards: starts a {@link FlightShardServer}, prints {@code
 * rtensor-flight-address=<host:port>} on one stdout line, and exits when its stdin closes.
 *
 * <p>Arguments: {@code [--host H] [--port P] [--cap-bytes N]}. The session secret comes from {@link
 * SessionSecret#ENV}, never from the command line. With {@code --seed-shards N --shard-bytes B} it
 * also stores N float32 shards of B bytes named {@code seed-0..N-1}, shard {@code s} holding the
 * {@link SeededBytes} of seed {@code s}, so a client can check every byte it fetched.
 */
public final class FlightShardServerMain {
  /** The prefix of the line announcing the address. */
  public static final String ADDRESS_LINE = "rtensor-flight-address=";

  private FlightShardServerMain() {}

  /**
   * The root allocator of a worker: Arrow's default rounds allocations under 16 MiB up to a power
   * of two, which would count a 9 MiB shard as 16 MiB against the store's cap; this one rounds to 4
   * KiB.
   */
  public static BufferAllocator newRootAllocator() {
    return new RootAllocator(
        AllocationListener.NOOP, Long.MAX_VALUE, new SegmentRoundingPolicy(4096));
  }

  public static void main(String[] args) throws Exception {
    String host = "127.0.0.1";
    int port = 0;
    long cap = 8L << 30;
    int seedShards = 0;
    long shardBytes = 0;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--host" -> host = args[++i];
        case "--port" -> port = Integer.parseInt(args[++i]);
        case "--cap-bytes" -> cap = Long.parseLong(args[++i]);
        case "--seed-shards" -> seedShards = Integer.parseInt(args[++i]);
        case "--shard-bytes" -> shardBytes = Long.parseLong(args[++i]);
        default -> throw new IllegalArgumentException("unknown argument " + args[i]);
      }
    }
    try (BufferAllocator root = newRootAllocator();
        FlightShardServer server =
            FlightShardServer.builder(root, SessionSecret.fromEnvironment().value())
                .host(host)
                .port(port)
                .capBytes(cap)
                .tls(SessionTls.fromEnvironment())
                .start()) {
      for (int s = 0; s < seedShards; s++) {
        try (Tensor t =
            Tensor.allocateUninitialized(root, DType.FLOAT32, Shape.of(shardBytes / 4))) {
          SeededBytes.fill(t.buffer().memoryAddress(), t.byteSize(), s);
          try (TensorBatch b = TensorBatch.of(RTensor.TENSOR_COLUMN, t.share())) {
            server.putLocal("seed-" + s, b);
          }
        }
      }
      System.out.println(ADDRESS_LINE + server.address());
      System.out.flush();
      InputStream in = System.in;
      byte[] sink = new byte[256];
      // No deadline on purpose: the server lives as long as its parent, which ends it by closing
      // stdin (or by dying, which closes it too).
      while (in.read(sink) >= 0) {
        // Wait for the parent to close stdin (or die).
      }
    }
  }
}
