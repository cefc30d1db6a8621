package io.rtensor.transport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import io.rtensor.handle.RTensor;
import io.rtensor.runtime.SessionSecret;
import io.rtensor.tensor.DType;
import io.rtensor.tensor.Shape;
import io.rtensor.tensor.Tensor;
import io.rtensor.tensor.TensorBatch;
import io.rtensor.testing.FlightWorkerProcess;
import io.rtensor.transport.internal.FlightShardClient;
import io.rtensor.transport.internal.FlightWire;
import io.rtensor.wire.ShardCodec;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.apache.arrow.flight.Action;
import org.apache.arrow.flight.AsyncPutListener;
import org.apache.arrow.flight.CallOption;
import org.apache.arrow.flight.FlightClient;
import org.apache.arrow.flight.FlightDescriptor;
import org.apache.arrow.flight.FlightRuntimeException;
import org.apache.arrow.flight.FlightStatusCode;
import org.apache.arrow.flight.FlightStream;
import org.apache.arrow.flight.Location;
import org.apache.arrow.flight.Ticket;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.VectorUnloader;
import org.apache.arrow.vector.ipc.message.ArrowRecordBatch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * What a holder of the session token can send a Flight shard server: requests past their limits are
 * refused as they arrive (not after being received and copied whole), and bytes the server cannot
 * use get INVALID_ARGUMENT, NOT_FOUND or RESOURCE_EXHAUSTED, never INTERNAL. After each the server
 * still serves what it stored before.
 */
@Timeout(180)
class FlightServerLimitsTest {
  private static final String SECRET = SessionSecret.generate().value();

  /** A session token for calls to the server at {@code address} (from our client's handshake). */
  private static CallOption auth(BufferAllocator root, String address) {
    try (FlightShardClient c = new FlightShardClient(address, root, SECRET)) {
      return c.auth();
    }
  }

  private static FlightClient raw(BufferAllocator allocator, String address) {
    int colon = address.lastIndexOf(':');
    return FlightClient.builder(
            allocator,
            Location.forGrpcInsecure(
                address.substring(0, colon), Integer.parseInt(address.substring(colon + 1))))
        .build();
  }

  private static FlightRuntimeException drain(FlightClient client, CallOption auth, byte[] ticket) {
    return assertThrows(
        FlightRuntimeException.class,
        () -> {
          try (FlightStream s = client.getStream(new Ticket(ticket), auth)) {
            while (s.next()) {
              // drain
            }
          }
        });
  }

  /** Resident memory of a process, from /proc (Linux). */
  private static long rssBytes(long pid) throws Exception {
    for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
      if (line.startsWith("VmRSS:")) {
        return Long.parseLong(line.replaceAll("[^0-9]", "")) << 10;
      }
    }
    throw new IllegalStateException("no VmRSS for " + pid);
  }

  @Test
  void aHugeTicketOrActionIsRefusedAsItArrivesAndTheWorkerBarelyGrows() throws Exception {
    try (FlightWorkerProcess worker =
            FlightWorkerProcess.start(SECRET, "--seed-shards", "1", "--shard-bytes", "4096");
        RootAllocator root = new RootAllocator();
        FlightClient client = raw(root, worker.address())) {
      CallOption auth = auth(root, worker.address());
      // Warm the worker's request path up so the growth measured is the request's.
      drain(client, auth, "no-such-shard".getBytes(StandardCharsets.UTF_8));
      long before = rssBytes(worker.process().pid());
      byte[] huge = new byte[100 << 20];
      Arrays.fill(huge, (byte) 'a');
      long start = System.nanoTime();
      FlightRuntimeException ticket = drain(client, auth, huge);
      assertEquals(FlightStatusCode.RESOURCE_EXHAUSTED, ticket.status().code(), ticket.toString());
      FlightRuntimeException action =
          assertThrows(
              FlightRuntimeException.class,
              () -> client.doAction(new Action(FlightWire.ACTION_CLEAR, huge), auth).hasNext());
      assertEquals(FlightStatusCode.RESOURCE_EXHAUSTED, action.status().code(), action.toString());
      double seconds = (System.nanoTime() - start) / 1e9;
      long grew = rssBytes(worker.process().pid()) - before;
      System.out.printf(
          "[limits] 100 MB ticket and action refused in %.2f s; worker RSS grew %d MiB%n",
          seconds, grew >> 20);
      assertTrue(grew < 48L << 20, "the worker grew " + (grew >> 20) + " MiB");
      assertTrue(ticket.getMessage().contains("refused as it arrived"), ticket.getMessage());
      // A ticket of the most ids, each as long as an id may be, is read: every one is reported
      // missing (in the error's metadata, which the client accepts at that size).
      List<String> longest = new java.util.ArrayList<>();
      for (int i = 0; i < FlightWire.MAX_IDS; i++) {
        String n = Integer.toString(i);
        longest.add("m".repeat(128 - n.length()) + n);
      }
      try (FlightShardClient ours = new FlightShardClient(worker.address(), root, SECRET)) {
        MissingShardsException m =
            assertThrows(
                MissingShardsException.class,
                () -> ours.get(longest, root, io.rtensor.wire.DecodeLimits.DEFAULT));
        assertEquals(FlightWire.MAX_IDS, m.missingIds().size());
      }
      List<String> tooMany = new java.util.ArrayList<>(longest.subList(0, 20));
      for (int i = 0; i <= FlightWire.MAX_IDS; i++) {
        tooMany.add("s" + i);
      }
      FlightRuntimeException e =
          drain(client, auth, String.join("\n", tooMany).getBytes(StandardCharsets.UTF_8));
      assertEquals(FlightStatusCode.INVALID_ARGUMENT, e.status().code(), e.toString());
      assertEquals(0, root.getAllocatedMemory());
    }
  }

  @Test
  void aPutOverTheCapIsRefusedWhileItArrives() throws Exception {
    try (BufferAllocator root = FlightShardServerMain.newRootAllocator();
        FlightShardServer server =
            FlightShardServer.builder(root, SECRET).capBytes(4L << 20).start();
        BufferAllocator clientMemory = new RootAllocator();
        FlightClient client = raw(clientMemory, server.address());
        BufferAllocator scratch = clientMemory.newChildAllocator("put", 0, Long.MAX_VALUE);
        VectorSchemaRoot rows = VectorSchemaRoot.create(FlightWire.SCHEMA, scratch);
        Tensor t = Tensor.allocate(clientMemory, DType.UINT8, Shape.of(1 << 20));
        Tensor keep = Tensor.of(clientMemory, new int[] {1, 2, 3})) {
      RTensor kept;
      try (FlightDataPlane plane =
          FlightDataPlane.builder(clientMemory, SECRET).putTarget(server.address()).build()) {
        kept = (RTensor) Remotizer.remotize(keep, plane);
      }
      long peakBefore = root.getPeakMemoryAllocation();
      byte[] shard = ShardCodec.encode(RTensor.TENSOR_COLUMN, t);
      // No declared size (as a plain Flight client sends): 64 shards of 1 MiB into a 4 MiB store.
      AsyncPutListener ack = new AsyncPutListener();
      FlightClient.ClientStreamListener put =
          client.startPut(
              FlightDescriptor.command(new byte[0]),
              rows,
              ack,
              auth(clientMemory, server.address()));
      try (ArrowBuf buf = scratch.buffer(shard.length)) {
        buf.setBytes(0, shard);
        for (int i = 0; i < 64 && !ack.isCancelled(); i++) {
          FlightWire.loadRow(rows, "big-" + i, buf, 0, shard.length, scratch);
          put.putNext();
        }
      }
      rows.clear();
      put.completed();
      FlightRuntimeException e = assertThrows(FlightRuntimeException.class, ack::getResult);
      assertEquals(FlightStatusCode.RESOURCE_EXHAUSTED, e.status().code(), e.toString());
      long peak = root.getPeakMemoryAllocation() - peakBefore;
      System.out.printf(
          "[limits] 64 MiB put into a 4 MiB store: server peak +%d MiB%n", peak >> 20);
      assertTrue(peak < 16L << 20, "the server held " + (peak >> 20) + " MiB of the put");
      assertEquals(1, server.stats().entries(), "nothing of the refused put is stored");

      // Declared by our client: refused before any shard is read.
      try (FlightShardClient c = new FlightShardClient(server.address(), clientMemory, SECRET);
          Tensor eight = Tensor.allocate(clientMemory, DType.UINT8, Shape.of(8 << 20));
          TensorBatch b = TensorBatch.of(RTensor.TENSOR_COLUMN, eight.share())) {
        ShardStoreFullException full =
            assertThrows(ShardStoreFullException.class, () -> c.put(Map.of("eight", b)));
        assertTrue(full.getMessage().contains("declares"), full.getMessage());
      }
      assertIntact(server, kept, keep, clientMemory);
    }
  }

  @Test
  void putRowsWithOffsetsOutsideTheirBuffersAreInvalidArgument() throws Exception {
    try (BufferAllocator root = FlightShardServerMain.newRootAllocator();
        FlightShardServer server = FlightShardServer.builder(root, SECRET).start();
        BufferAllocator clientMemory = new RootAllocator();
        FlightClient client = raw(clientMemory, server.address());
        Tensor keep = Tensor.of(clientMemory, new float[] {1.5f})) {
      RTensor kept;
      try (FlightDataPlane plane =
          FlightDataPlane.builder(clientMemory, SECRET).putTarget(server.address()).build()) {
        kept = (RTensor) Remotizer.remotize(keep, plane);
      }
      CallOption auth = auth(clientMemory, server.address());
      byte[] shard = ShardCodec.encode(RTensor.TENSOR_COLUMN, keep);
      long[][] cases = {
        // id start, id end, shard start, shard end
        {0, 2, 0, 1L << 40},
        {0, 2, -8, shard.length},
        {0, 2, shard.length, 0},
        {0, 1 << 20, 0, shard.length},
        {-4, 2, 0, shard.length},
        {2, 0, 0, shard.length},
      };
      for (long[] c : cases) {
        Status status = putCrafted(server.address(), clientMemory, shard, c);
        assertEquals(
            Status.Code.INVALID_ARGUMENT, status.getCode(), Arrays.toString(c) + ": " + status);
      }
      // The same bytes with the offsets they should have are stored.
      Status fine =
          putCrafted(server.address(), clientMemory, shard, new long[] {0, 2, 0, shard.length});
      assertEquals(Status.Code.OK, fine.getCode(), fine.toString());
      assertTrue(server.holds("ok"));
      // A missing shard is NOT_FOUND, naming it.
      FlightRuntimeException missing =
          drain(client, auth, "never-stored".getBytes(StandardCharsets.UTF_8));
      assertEquals(FlightStatusCode.NOT_FOUND, missing.status().code());
      assertTrue(missing.getMessage().contains("never-stored"), missing.getMessage());
      assertIntact(server, kept, keep, clientMemory);
    }
  }

  /** A one-row put whose id is "ok" and whose offsets are {@code c}, as sent on the wire. */
  private static Status putCrafted(String address, BufferAllocator memory, byte[] shard, long[] c)
      throws Exception {
    RawFlightPut.Ipc schema = RawFlightPut.schemaMessage(FlightWire.SCHEMA);
    RawFlightPut.Ipc batch;
    try (BufferAllocator scratch = memory.newChildAllocator("crafted", 0, Long.MAX_VALUE);
        VectorSchemaRoot root = VectorSchemaRoot.create(FlightWire.SCHEMA, scratch);
        ArrowBuf data = scratch.buffer(shard.length)) {
      data.setBytes(0, shard);
      FlightWire.loadRow(root, "ok", data, 0, shard.length, scratch);
      try (ArrowRecordBatch rb = new VectorUnloader(root).getRecordBatch()) {
        batch = RawFlightPut.batchMessage(rb);
      }
    }
    ByteBuffer body = ByteBuffer.wrap(batch.body()).order(ByteOrder.LITTLE_ENDIAN);
    int idOffsets = (int) batch.bufferOffset(1);
    int shardOffsets = (int) batch.bufferOffset(4);
    body.putInt(idOffsets, (int) c[0]).putInt(idOffsets + 4, (int) c[1]);
    body.putLong(shardOffsets, c[2]).putLong(shardOffsets + 8, c[3]);
    try (RawFlightPut put = new RawFlightPut(address, SECRET)) {
      return put.put(
          List.of(
              RawFlightPut.data(RawFlightPut.command(new byte[0]), schema),
              RawFlightPut.data(null, batch)),
          30);
    }
  }

  private static void assertIntact(
      FlightShardServer server, RTensor kept, Tensor expected, BufferAllocator memory) {
    try (FlightDataPlane plane =
        FlightDataPlane.builder(memory, SECRET).putTarget(server.address()).build()) {
      try (Tensor back = (Tensor) new Remotizer(plane, null, memory).localize(kept)) {
        assertTrue(back.contentEquals(expected), "the shard stored before is intact");
      }
    }
  }
}
