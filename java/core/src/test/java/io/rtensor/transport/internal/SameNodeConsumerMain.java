package io.rtensor.transport.internal;

import io.rtensor.device.NativeHost;
import io.rtensor.handle.RTensor;
import io.rtensor.runtime.SessionSecret;
import io.rtensor.tensor.TensorBatch;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.apache.arrow.memory.RootAllocator;

/**
 * A consumer process for {@link SameNodeTest}: maps shard {@code args[1]} of the store at {@code
 * args[0]} read-only through the same-node path (secret in the environment), prints {@code MAPPED
 * <checksum>} and waits to be killed.
 */
public final class SameNodeConsumerMain {
  public static void main(String[] args) throws Exception {
    SessionSecret secret = SessionSecret.fromEnvironment();
    RootAllocator root = new RootAllocator();
    FlightShardClient client = new FlightShardClient(args[0], root, secret.value());
    SameNodeFetcher fetcher =
        new SameNodeFetcher(
            secret.key(SessionSecret.DATA_PLANE), io.rtensor.wire.DecodeLimits.DEFAULT, null);
    Map<String, TensorBatch> got =
        fetcher.fetch(
            client,
            List.of(args[1]),
            Map.of(args[1], Long.parseLong(args[2])),
            root,
            true,
            Duration.ofSeconds(30),
            rest -> {
              throw new IllegalStateException("not through shared memory: " + rest);
            });
    var t = got.get(args[1]).tensor(RTensor.TENSOR_COLUMN);
    System.out.println("MAPPED " + NativeHost.checksum(t.memoryAddress(), t.byteSize()));
    System.out.flush();
    Thread.sleep(600_000);
  }
}
