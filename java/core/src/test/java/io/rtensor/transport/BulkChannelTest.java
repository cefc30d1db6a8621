package io.rtensor.transport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rtensor.auth.SessionTls;
import io.rtensor.handle.RTensor;
import io.rtensor.runtime.SessionSecret;
import io.rtensor.tensor.DType;
import io.rtensor.tensor.Shape;
import io.rtensor.tensor.Tensor;
import io.rtensor.testing.SeededShards;
import io.rtensor.wire.DecodeLimits;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The Flight shard server's bulk side channel: large fetches take it and arrive intact, small ones
 * stay on DoGet, and a request without the session's token, or malformed, is refused with a reason
 * while the server keeps everything it stores and keeps serving.
 */
class BulkChannelTest {
  private static final String SECRET = SessionSecret.generate().value();
  private static final int SHARD_BYTES = 8 << 20;

  private RootAllocator root;
  private FlightShardServer server;
  private BufferAllocator allocator;
  private BufferAllocator received;
  private final List<Tensor> tensors = new ArrayList<>();

  @BeforeEach
  void start() throws Exception {
    root = new RootAllocator();
    server = FlightShardServer.builder(root, SECRET).capBytes(1L << 30).start();
    allocator = root.newChildAllocator("test", 0, Long.MAX_VALUE);
    received = root.newChildAllocator("received", 0, Long.MAX_VALUE);
  }

  @AfterEach
  void stop() {
    tensors.forEach(Tensor::close);
    received.close();
    allocator.close();
    server.close();
    root.close();
  }

  private FlightDataPlane plane(boolean bulk) {
    return FlightDataPlane.builder(root, SECRET)
        .putTarget(server.address())
        .sameNode(false) // the store is on this node: keep to the sockets
        .bulkChannel(bulk)
        .build();
  }

  /** {@code n} seeded shards of {@link #SHARD_BYTES} bytes, stored; their handles. */
  private List<Object> store(FlightDataPlane plane, int n, int bytes) {
    for (int i = 0; i < n; i++) {
      Tensor t = Tensor.allocateUninitialized(allocator, DType.UINT8, Shape.of(bytes));
      SeededShards.fill(t, i);
      tensors.add(t);
    }
    @SuppressWarnings("unchecked")
    List<Object> handles = (List<Object>) Remotizer.remotize(new ArrayList<>(tensors), plane);
    return handles;
  }

  @Test
  void largeFetchesTakeTheBulkChannelAndEveryByteArrives() {
    try (FlightDataPlane plane = plane(true)) {
      assertTrue(server.bulkPort() > 0, "a plaintext server has a bulk channel");
      List<Object> handles = store(plane, 6, SHARD_BYTES);
      List<?> local = (List<?>) new Remotizer(plane, null, received).localize(handles);
      SeededShards.assertEachHoldsItsSeed(local);
      local.forEach(t -> ((Tensor) t).close());
      assertTrue(server.bulkRequestsServed() > 0, "the fetch went through the bulk channel");

      // A small request stays on DoGet.
      long before = server.bulkRequestsServed();
      try (Tensor small = Tensor.of(allocator, new float[] {1f, 2f});
          Tensor back =
              (Tensor)
                  new Remotizer(plane, null, received).localize(Remotizer.remotize(small, plane))) {
        assertTrue(back.contentEquals(small));
      }
      assertEquals(before, server.bulkRequestsServed());
    }
  }

  @Test
  void manySmallShardsTakeTheBulkChannelPackedAndEachArrivesIntact() {
    try (FlightDataPlane plane = plane(true)) {
      List<Object> handles = store(plane, 2000, 4096 + 8); // not a multiple of the alignment
      List<?> local = (List<?>) new Remotizer(plane, null, received).localize(handles);
      SeededShards.assertEachHoldsItsSeed(local);
      local.forEach(t -> ((Tensor) t).close());
      assertTrue(server.bulkRequestsServed() > 0, "the fetch went through the bulk channel");
    }
  }

  @Test
  void aPlaneWithTheBulkChannelOffFetchesTheSameThroughDoGet() {
    try (FlightDataPlane plane = plane(false)) {
      List<Object> handles = store(plane, 3, SHARD_BYTES);
      List<?> local = (List<?>) new Remotizer(plane, null, received).localize(handles);
      SeededShards.assertEachHoldsItsSeed(local);
      local.forEach(t -> ((Tensor) t).close());
      assertEquals(0, server.bulkRequestsServed());
    }
  }

  @Test
  void missingShardsOnTheBulkChannelAreNamedExactlyAndNothingIsHeld() {
    try (FlightDataPlane plane = plane(true)) {
      List<Object> handles = store(plane, 2, SHARD_BYTES);
      RTensor gone = (RTensor) handles.get(1);
      plane.clear(List.of(gone));
      MissingShardsException e =
          assertThrows(
              MissingShardsException.class,
              () -> new Remotizer(plane, null, received).localize(handles));
      assertEquals(Map.of(server.address(), List.of(gone.shardId())), e.missingByLocation());
      assertEquals(0, received.getAllocatedMemory(), "nothing of the failed fetch is held");
      try (Tensor first = (Tensor) new Remotizer(plane, null, received).localize(handles.get(0))) {
        SeededShards.assertEachHoldsItsSeed(List.of(first));
      }
    }
  }

  /** What the server answers a raw request: its status byte, then the reason where it refused. */
  private record Answer(int status, String reason) {}

  private Answer raw(byte[] magic, byte[] token, int length, byte[] body) throws Exception {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress("127.0.0.1", server.bulkPort()), 5_000);
      s.setSoTimeout(10_000);
      DataOutputStream out = new DataOutputStream(s.getOutputStream());
      out.write(magic);
      out.write(token);
      out.writeInt(length);
      out.write(body);
      out.flush();
      DataInputStream in = new DataInputStream(s.getInputStream());
      int status = in.readUnsignedByte();
      if (status == 0) {
        return new Answer(0, "");
      }
      byte[] text = new byte[in.readUnsignedShort()];
      in.readFully(text);
      return new Answer(status, new String(text, StandardCharsets.UTF_8));
    }
  }

  @Test
  void aRequestWithoutTheSessionsTokenOrMalformedIsRefusedAndTheStoreKeepsServing()
      throws Exception {
    try (FlightDataPlane plane = plane(true)) {
      List<Object> handles = store(plane, 1, SHARD_BYTES);
      String id = ((RTensor) handles.get(0)).shardId();
      byte[] ids = (id + "\n").getBytes(StandardCharsets.UTF_8);
      byte[] magic = "RTB1".getBytes(StandardCharsets.US_ASCII);
      byte[] forged = new byte[60];
      System.arraycopy("RTT1".getBytes(StandardCharsets.US_ASCII), 0, forged, 0, 4);

      Answer noToken = raw(magic, forged, ids.length, ids);
      assertEquals(1, noToken.status(), noToken.toString());
      assertTrue(noToken.reason().contains("token refused"), noToken.reason());

      Answer notOurs = raw("HTTP".getBytes(StandardCharsets.US_ASCII), forged, 0, new byte[0]);
      assertEquals(2, notOurs.status());
      assertTrue(notOurs.reason().contains("not an rtensor bulk request"), notOurs.reason());

      Answer huge = raw(magic, forged, Integer.MAX_VALUE, new byte[0]);
      assertEquals(1, huge.status(), "the token is checked before the request is read");

      // Everything stored is still there and served.
      List<?> local = (List<?>) new Remotizer(plane, null, received).localize(handles);
      SeededShards.assertEachHoldsItsSeed(local);
      local.forEach(t -> ((Tensor) t).close());
      assertTrue(server.bulkRequestsServed() > 0);
    }
  }

  @Test
  void aShardLongerThanTheDecodeLimitsAllowIsRefusedBeforeAnythingIsAllocated() {
    try (FlightDataPlane writer = plane(true);
        FlightDataPlane strict =
            FlightDataPlane.builder(root, SECRET)
                .putTarget(server.address())
                .sameNode(false)
                .limits(DecodeLimits.DEFAULT.withMaxBodyBytes(1 << 20))
                .build()) {
      List<Object> handles = store(writer, 1, SHARD_BYTES);
      DataPlaneException e =
          assertThrows(
              DataPlaneException.class,
              () -> new Remotizer(strict, null, received).localize(handles));
      assertTrue(e.getMessage().contains("decode limits"), e.getMessage());
      assertEquals(0, received.getAllocatedMemory());
    }
  }

  @Test
  void aServerWithTlsHasNoBulkChannelAndItsClientsFetchThroughDoGet() throws Exception {
    SessionTls tls = SessionTls.generate();
    try (RootAllocator tlsRoot = new RootAllocator();
        FlightShardServer secure = FlightShardServer.builder(tlsRoot, SECRET).tls(tls).start()) {
      assertEquals(0, secure.bulkPort());
    }
  }
}
