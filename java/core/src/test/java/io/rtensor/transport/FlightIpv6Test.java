package io.rtensor.transport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.rtensor.handle.RTensor;
import io.rtensor.runtime.SessionSecret;
import io.rtensor.tensor.Tensor;
import io.rtensor.tensor.TensorBatch;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.util.List;
import org.apache.arrow.memory.RootAllocator;
import org.junit.jupiter.api.Test;

/**
 * A Flight shard store on an IPv6 address advertises it bracketed, and a client fetches from it.
 */
class FlightIpv6Test {

  private static boolean ipv6Loopback() {
    try (ServerSocket s = new ServerSocket()) {
      InetAddress loopback = InetAddress.getByName("::1");
      s.bind(new InetSocketAddress(loopback, 0));
      return loopback instanceof Inet6Address;
    } catch (Exception e) {
      return false;
    }
  }

  @Test
  void aShardStoredOnIpv6LoopbackIsFetchedThroughItsBracketedAddress() throws Exception {
    boolean available = ipv6Loopback();
    if (!available) {
      System.out.println("[ipv6] skipped: this machine cannot bind ::1");
    }
    assumeTrue(available, "this machine cannot bind ::1");
    String secret = SessionSecret.generate().value();
    try (RootAllocator root = new RootAllocator();
        FlightShardServer server = FlightShardServer.builder(root, secret).host("::1").start();
        FlightDataPlane producer =
            FlightDataPlane.builder(root, secret).localServer(server).build();
        FlightDataPlane consumer = FlightDataPlane.builder(root, secret).build();
        Tensor t = Tensor.of(root, new float[] {1f, 2f, 3f})) {
      assertTrue(server.address().startsWith("[::1]:"), server.address());
      RTensor handle;
      try (TensorBatch batch = TensorBatch.of(RTensor.TENSOR_COLUMN, t.share())) {
        handle = producer.put(batch);
      }
      assertEquals(server.address(), handle.location().key());
      try (TensorBatch back = consumer.fetch(List.of(handle), root).get(handle.shardId())) {
        assertTrue(back.tensor(RTensor.TENSOR_COLUMN).contentEquals(t));
      }
      producer.clear(List.of(handle));
    }
  }
}
