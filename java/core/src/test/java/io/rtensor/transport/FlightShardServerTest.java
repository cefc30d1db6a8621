package io.rtensor.transport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rtensor.handle.RTensor;
import io.rtensor.runtime.SessionSecret;
import io.rtensor.tensor.Shape;
import io.rtensor.tensor.Tensor;
import io.rtensor.tensor.TensorBatch;
import io.rtensor.transport.internal.FlightShardClient;
import io.rtensor.transport.internal.FlightWire;
import io.rtensor.wire.DecodeLimits;
import io.rtensor.wire.ShardCodec;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.apache.arrow.flight.CallOption;
import org.apache.arrow.flight.FlightClient;
import org.apache.arrow.flight.FlightRuntimeException;
import org.apache.arrow.flight.FlightStatusCode;
import org.apache.arrow.flight.FlightStream;
import org.apache.arrow.flight.Location;
import org.apache.arrow.flight.Ticket;
import org.apache.arrow.memory.BufferAllocator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * One Flight server in this JVM: tokens, bad input, the store's cap, and clears reaching the owning
 * process's cache. After every bad request the test fetches a shard stored before and checks it.
 */
class FlightShardServerTest {
  private static final String SECRET = SessionSecret.generate().value();
  private BufferAllocator root;
  private FlightShardServer server;
  private FlightDataPlane plane;
  private BufferAllocator allocator;
  private Tensor reference;
  private RTensor referenceHandle;

  @BeforeEach
  void start() throws Exception {
    root = FlightShardServerMain.newRootAllocator();
    server =
        FlightShardServer.builder(root, SECRET)
            .capBytes(1 << 20)
            .limits(DecodeLimits.DEFAULT.withMaxBodyBytes(512 << 10))
            .start();
    plane = FlightDataPlane.builder(root, SECRET).putTarget(server.address()).build();
    allocator = root.newChildAllocator("test", 0, Long.MAX_VALUE);
    reference = Tensor.of(allocator, new float[] {1.5f, -2f, 3.25f});
    referenceHandle = (RTensor) Remotizer.remotize(reference, plane);
  }

  @AfterEach
  void stop() {
    reference.close();
    allocator.close();
    plane.close();
    server.close();
    root.close();
  }

  private void assertReferenceIntact() {
    Remotizer fresh = new Remotizer(plane, null, allocator);
    try (Tensor back = (Tensor) fresh.localize(referenceHandle)) {
      assertTrue(back.contentEquals(reference), "the shard stored before is intact");
    }
  }

  private FlightShardClient client(String secret) {
    return new FlightShardClient(server.address(), root, secret);
  }

  @Test
  void callsWithoutTheTokenOrWithAWrongOneAreRefused() {
    for (String secret : new String[] {null, "not-the-secret-but-long-enough", SECRET + "x"}) {
      try (FlightShardClient c = client(secret)) {
        DataPlaneAuthException e =
            assertThrows(
                DataPlaneAuthException.class,
                () -> c.get(List.of(referenceHandle.shardId()), allocator, DecodeLimits.DEFAULT));
        // Without a key no token; with a wrong key the client finds the server's proof wrong first.
        assertTrue(
            e.getMessage().contains(secret == null ? "no session token" : "did not prove"),
            e.getMessage());
        assertThrows(DataPlaneAuthException.class, c::stats);
        assertThrows(
            DataPlaneAuthException.class, () -> c.clear(List.of(referenceHandle.shardId())));
      }
    }
    try (FlightDataPlane wrong =
        FlightDataPlane.builder(root, "wrong-secret-0123456789")
            .putTarget(server.address())
            .build()) {
      assertThrows(
          DataPlaneAuthException.class,
          () -> new Remotizer(wrong, null, allocator).localize(referenceHandle));
      try (Tensor t = Tensor.of(allocator, new int[] {1})) {
        assertThrows(DataPlaneAuthException.class, () -> Remotizer.remotize(t, wrong));
      }
    }
    assertEquals(1, server.stats().entries(), "nothing was stored or cleared without the token");
    assertReferenceIntact();
  }

  @Test
  void malformedTicketsAreRejectedWithInvalidArgument() throws Exception {
    CallOption auth;
    try (FlightShardClient c = client(SECRET)) {
      auth = c.auth();
    }
    byte[][] tickets = {
      new byte[0],
      new byte[] {(byte) 0xff, (byte) 0xfe},
      "a\n\nb".getBytes(StandardCharsets.UTF_8),
      "has space".getBytes(StandardCharsets.UTF_8),
      "x".repeat(200).getBytes(StandardCharsets.UTF_8),
    };
    try (FlightClient raw =
        FlightClient.builder(allocator, Location.forGrpcInsecure("127.0.0.1", server.port()))
            .build()) {
      for (byte[] ticket : tickets) {
        FlightRuntimeException e =
            assertThrows(
                FlightRuntimeException.class,
                () -> {
                  try (FlightStream s = raw.getStream(new Ticket(ticket), auth)) {
                    while (s.next()) {
                      // drain
                    }
                  }
                });
        assertEquals(FlightStatusCode.INVALID_ARGUMENT, e.status().code(), e.getMessage());
        assertTrue(e.getMessage().contains("malformed ticket"), e.getMessage());
      }
    }
    assertReferenceIntact();
  }

  @Test
  void unknownActionsAreRejected() {
    try (FlightShardClient c = client(SECRET)) {
      BadShardRequestException e =
          assertThrows(
              BadShardRequestException.class, () -> c.action("drop-everything", new byte[0]));
      assertTrue(e.getMessage().contains("unknown action 'drop-everything'"), e.getMessage());
      assertThrows(
          BadShardRequestException.class, () -> c.action(FlightWire.ACTION_CLEAR, new byte[] {0}));
    }
    assertReferenceIntact();
  }

  @Test
  void corruptAndOversizedPutStreamsAreRefusedAndNothingIsStored() {
    byte[] good;
    try (Tensor t = Tensor.of(allocator, new float[] {1, 2, 3, 4})) {
      good = ShardCodec.encode(RTensor.TENSOR_COLUMN, t);
    }
    Random random = new Random(7);
    try (FlightShardClient c = client(SECRET)) {
      byte[] garbage = new byte[1000];
      random.nextBytes(garbage);
      assertThrows(BadShardRequestException.class, () -> c.putRaw("garbage", garbage));
      byte[] truncated = java.util.Arrays.copyOf(good, good.length - 20);
      assertThrows(BadShardRequestException.class, () -> c.putRaw("truncated", truncated));
      for (int i = 0; i < 50; i++) {
        byte[] flipped = good.clone();
        flipped[random.nextInt(flipped.length)] ^= (byte) (1 << random.nextInt(8));
        try {
          c.putRaw("flipped-" + i, flipped);
        } catch (BadShardRequestException expected) {
          // most flips are caught; a flip inside the tensor bytes is still a valid shard
        }
      }
      assertThrows(BadShardRequestException.class, () -> c.putRaw("empty", new byte[0]));
      try (Tensor big =
              Tensor.allocate(allocator, io.rtensor.tensor.DType.UINT8, Shape.of(600 << 10));
          TensorBatch b = TensorBatch.of(RTensor.TENSOR_COLUMN, big.share())) {
        BadShardRequestException e =
            assertThrows(BadShardRequestException.class, () -> c.put(Map.of("oversized", b)));
        assertTrue(e.getMessage().contains("not a valid shard stream"), e.getMessage());
      }
      c.putRaw("fine", good);
      assertThrows(BadShardRequestException.class, () -> c.putRaw("fine", good), "duplicate id");
    }
    for (String id : List.of("garbage", "truncated", "empty", "oversized")) {
      assertTrue(!server.holds(id), "refused shard " + id + " is not stored");
    }
    assertTrue(server.holds("fine"));
    assertReferenceIntact();
  }

  @Test
  void aPutPastTheCapIsRefusedAndNothingElseIsLost() {
    try (Tensor quarter =
        Tensor.allocate(allocator, io.rtensor.tensor.DType.UINT8, Shape.of(400 << 10))) {
      RTensor first = (RTensor) Remotizer.remotize(quarter, plane);
      RTensor second = (RTensor) Remotizer.remotize(quarter, plane);
      ShardStoreFullException e =
          assertThrows(ShardStoreFullException.class, () -> Remotizer.remotize(quarter, plane));
      assertTrue(e.getMessage().contains("cap"), e.getMessage());
      assertEquals(3, server.stats().entries());
      Remotizer r = new Remotizer(plane, null, allocator);
      try (Tensor a = (Tensor) r.localize(first);
          Tensor b = (Tensor) r.localize(second)) {
        assertTrue(a.contentEquals(quarter) && b.contentEquals(quarter));
      }
      plane.clear(server.address(), List.of(first.shardId()));
      ((RTensor) Remotizer.remotize(quarter, plane)).shardId(); // fits again after the clear
    }
    assertReferenceIntact();
  }

  @Test
  void aClearFromAnotherProcessEvictsTheOwnersCache() {
    // The worker's own plane: its server plus its cache, evicted when shards are removed.
    try (FlightDataPlane worker =
            FlightDataPlane.builder(root, SECRET).localServer(server).build();
        FetchCache cache = new FetchCache(1 << 20)) {
      worker.onShardsRemoved(cache::evict);
      Remotizer own = new Remotizer(worker, cache, allocator);
      try (Tensor t = Tensor.of(allocator, new long[] {5, 6, 7})) {
        RTensor h = (RTensor) own.remotize(t);
        ((Tensor) own.localize(h)).close();
        assertEquals(1, cache.stats().entries());
        ClearResult r = plane.clear(h.location().key(), List.of(h.shardId())); // remote clear
        assertEquals(1, r.cleared());
        assertEquals(0, cache.stats().entries(), "the owner's cache was drained");
      }
    }
    assertReferenceIntact();
  }

  @Test
  void anUnreachableWorkerIsRetriedThenReported() {
    try (FlightDataPlane p =
        FlightDataPlane.builder(root, SECRET).putTarget("127.0.0.1:1").retries(3, 10).build()) {
      long start = System.nanoTime();
      DataPlaneException e = assertThrows(DataPlaneException.class, () -> p.stats("127.0.0.1:1"));
      assertTrue(e.getMessage().contains("after 3 attempts"), e.getMessage());
      assertTrue(System.nanoTime() - start >= 30_000_000L, "backoff 10 + 20 ms");
    }
  }
}
