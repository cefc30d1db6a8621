package io.rtensor.transport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.grpc.Status;
import io.rtensor.handle.RTensor;
import io.rtensor.runtime.SessionSecret;
import io.rtensor.tensor.Tensor;
import io.rtensor.transport.internal.FlightShardClient;
import io.rtensor.transport.internal.FlightWire;
import io.rtensor.wire.ShardCodec;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.apache.arrow.flight.Action;
import org.apache.arrow.flight.CallOption;
import org.apache.arrow.flight.CallOptions;
import org.apache.arrow.flight.FlightClient;
import org.apache.arrow.flight.FlightRuntimeException;
import org.apache.arrow.flight.FlightStatusCode;
import org.apache.arrow.flight.FlightStream;
import org.apache.arrow.flight.Location;
import org.apache.arrow.flight.Result;
import org.apache.arrow.flight.Ticket;
import org.apache.arrow.flight.impl.Flight;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.VectorUnloader;
import org.apache.arrow.vector.ipc.message.ArrowRecordBatch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A Flight shard server fed fuzzed requests from fixed seeds through plain clients holding the
 * token: 10,000 tickets, 2,000 action bodies and 1,000 put streams (their bodies flipped, cut, or
 * given offsets anywhere; their IPC headers are left intact, since Arrow's own DoPut parser answers
 * a header of an unknown message type with UNKNOWN before the server sees the message, and leaks
 * the body it read). Every answer is a typed status (OK, INVALID_ARGUMENT, NOT_FOUND,
 * RESOURCE_EXHAUSTED), never INTERNAL or UNKNOWN, each within 5 s; afterwards the server still
 * serves, and every allocator closes with nothing allocated.
 */
@Timeout(900)
class FlightFuzzTest {
  private static final String SECRET = SessionSecret.generate().value();
  private static final long CASE_SECONDS = 5;
  private static final Set<FlightStatusCode> TYPED =
      EnumSet.of(
          FlightStatusCode.OK,
          FlightStatusCode.INVALID_ARGUMENT,
          FlightStatusCode.NOT_FOUND,
          FlightStatusCode.RESOURCE_EXHAUSTED);
  private static final int STORED = 10;

  private static CallOptions.GrpcCallOption deadline() {
    return (CallOptions.GrpcCallOption) CallOptions.timeout(CASE_SECONDS, TimeUnit.SECONDS);
  }

  /** Tallies answers; fails on an untyped one or a slow one. */
  private static final class Tally {
    final TreeMap<String, Integer> codes = new TreeMap<>();
    long slowest;

    void record(String what, int i, FlightStatusCode code, long nanos, Object detail) {
      codes.merge(code.name(), 1, Integer::sum);
      slowest = Math.max(slowest, nanos);
      if (!TYPED.contains(code)) {
        fail(what + " case " + i + ": " + code + ": " + detail);
      }
      if (nanos > TimeUnit.SECONDS.toNanos(CASE_SECONDS)) {
        fail(what + " case " + i + " took " + nanos / 1e9 + " s");
      }
    }

    @Override
    public String toString() {
      return codes + ", slowest " + String.format("%.1f ms", slowest / 1e6);
    }
  }

  @Test
  void fuzzedTicketsActionsAndPutsGetTypedAnswersAndLeakNothing() throws Exception {
    Random random = new Random(0x7157_f1e7L);
    BufferAllocator serverRoot = FlightShardServerMain.newRootAllocator();
    BufferAllocator clientRoot = new RootAllocator();
    List<String> stored = new ArrayList<>();
    byte[] shard;
    try (FlightShardServer server =
            FlightShardServer.builder(serverRoot, SECRET).capBytes(64L << 20).start();
        FlightClient client =
            FlightClient.builder(clientRoot, Location.forGrpcInsecure("127.0.0.1", server.port()))
                .build()) {
      // A session token from our client's handshake, for the plain client's calls.
      CallOption auth;
      try (FlightShardClient c = new FlightShardClient(server.address(), clientRoot, SECRET)) {
        auth = c.auth();
      }
      try (Tensor t = Tensor.of(clientRoot, new float[] {1f, 2f, 3f, 4f})) {
        shard = ShardCodec.encode(RTensor.TENSOR_COLUMN, t);
        for (int i = 0; i < STORED; i++) {
          try (io.rtensor.tensor.TensorBatch b =
              io.rtensor.tensor.TensorBatch.of(RTensor.TENSOR_COLUMN, t.share())) {
            server.putLocal("s" + i, b);
          }
          stored.add("s" + i);
        }
      }

      // Connect and load the paths once, outside the timed cases.
      try (FlightStream s =
          client.getStream(new Ticket("s0".getBytes(StandardCharsets.UTF_8)), auth)) {
        while (s.next()) {
          // drain
        }
      }
      Tally tickets = new Tally();
      for (int i = 0; i < 10_000; i++) {
        byte[] ticket = ticket(random, stored, i);
        long start = System.nanoTime();
        FlightStatusCode code;
        Object detail = ticket.length + " bytes";
        try (FlightStream s = client.getStream(new Ticket(ticket), auth, deadline())) {
          int rows = 0;
          while (s.next()) {
            rows += s.getRoot().getRowCount();
          }
          code = FlightStatusCode.OK;
          assertTrue(rows > 0, "an answered ticket names at least one shard");
        } catch (FlightRuntimeException e) {
          code = e.status().code();
          detail = e;
        }
        tickets.record("ticket", i, code, System.nanoTime() - start, detail);
      }
      System.out.println("[flight fuzz] 10000 tickets: " + tickets);

      Tally actions = new Tally();
      for (int i = 0; i < 2_000; i++) {
        String type =
            switch (i % 4) {
              case 0, 1 -> FlightWire.ACTION_CLEAR;
              case 2 -> FlightWire.ACTION_STATS;
              default -> randomName(random);
            };
        // Clears name no stored shard, so the tickets above and the check below keep them.
        byte[] body = i % 8 == 0 ? new byte[0] : ticket(random, List.of("gone"), i);
        long start = System.nanoTime();
        FlightStatusCode code = FlightStatusCode.OK;
        Object detail = type;
        try {
          Iterator<Result> results = client.doAction(new Action(type, body), auth, deadline());
          while (results.hasNext()) {
            results.next();
          }
        } catch (FlightRuntimeException e) {
          code = e.status().code();
          detail = e;
        }
        actions.record("action", i, code, System.nanoTime() - start, detail);
      }
      System.out.println("[flight fuzz] 2000 actions: " + actions);

      Tally puts = new Tally();
      RawFlightPut.Ipc schema = RawFlightPut.schemaMessage(FlightWire.SCHEMA);
      RawFlightPut.Ipc batch;
      try (BufferAllocator scratch = clientRoot.newChildAllocator("put", 0, Long.MAX_VALUE);
          VectorSchemaRoot root = VectorSchemaRoot.create(FlightWire.SCHEMA, scratch);
          ArrowBuf data = scratch.buffer(shard.length)) {
        data.setBytes(0, shard);
        FlightWire.loadRow(root, "p", data, 0, shard.length, scratch);
        try (ArrowRecordBatch rb = new VectorUnloader(root).getRecordBatch()) {
          batch = RawFlightPut.batchMessage(rb);
        }
      }
      try (RawFlightPut raw = new RawFlightPut(server.address(), SECRET)) {
        for (int i = 0; i < 1_000; i++) {
          byte[] schemaHeader = schema.header();
          byte[] header = batch.header();
          byte[] body = batch.body().clone();
          switch (i % 3) {
            case 0 -> body = flip(body, random);
            case 1 -> body = Arrays.copyOf(body, random.nextInt(body.length + 1));
            default -> {
              // Offsets anywhere: the id's (buffer 1) or the shard's (buffer 4).
              java.nio.ByteBuffer b =
                  java.nio.ByteBuffer.wrap(body).order(java.nio.ByteOrder.LITTLE_ENDIAN);
              if (random.nextBoolean()) {
                b.putInt((int) batch.bufferOffset(1) + 4 * random.nextInt(2), random.nextInt());
              } else {
                b.putLong((int) batch.bufferOffset(4) + 8 * random.nextInt(2), random.nextLong());
              }
            }
          }
          // A fresh id per case, so accepted puts do not collide.
          List<Flight.FlightData> messages =
              List.of(
                  RawFlightPut.data(
                      RawFlightPut.command(new byte[0]),
                      new RawFlightPut.Ipc(schemaHeader, new byte[0])),
                  RawFlightPut.data(null, new RawFlightPut.Ipc(header, body)));
          long start = System.nanoTime();
          Status status = raw.put(messages, CASE_SECONDS);
          puts.record(
              "put",
              i,
              FlightStatusCode.valueOf(status.getCode().name()),
              System.nanoTime() - start,
              status);
          server.removeLocal(List.of("p"));
        }
      }
      System.out.println("[flight fuzz] 1000 puts: " + puts);

      // The server still serves what it stored.
      try (FlightStream s =
          client.getStream(
              new Ticket(String.join("\n", stored).getBytes(StandardCharsets.UTF_8)), auth)) {
        int rows = 0;
        while (s.next()) {
          rows += s.getRoot().getRowCount();
        }
        assertEquals(STORED, rows);
      }
    }
    assertEquals(0, clientRoot.getAllocatedMemory(), "the clients hold nothing");
    clientRoot.close();
    assertEquals(0, serverRoot.getAllocatedMemory(), "the closed server holds nothing");
    serverRoot.close();
  }

  /** A ticket: random bytes, a mutated list of ids, or a list mixing good and bad ids. */
  private static byte[] ticket(Random random, List<String> stored, int i) {
    if (i % 997 == 0) {
      byte[] big = new byte[FlightWire.MAX_REQUEST_MESSAGE_BYTES + random.nextInt(1 << 20)];
      Arrays.fill(big, (byte) 'a');
      return big;
    }
    List<String> ids = new ArrayList<>();
    for (int n = random.nextInt(6); n >= 0; n--) {
      ids.add(
          switch (random.nextInt(8)) {
            case 0, 1, 2 -> stored.get(random.nextInt(stored.size()));
            case 3 -> "unknown-" + random.nextInt(1000);
            case 4 -> "x".repeat(120 + random.nextInt(16));
            case 5 -> "";
            case 6 -> new String(Character.toChars(0x80 + random.nextInt(0x2000)));
            default -> randomName(random);
          });
    }
    byte[] valid = String.join("\n", new LinkedHashSet<>(ids)).getBytes(StandardCharsets.UTF_8);
    return switch (i % 4) {
      case 0 -> {
        byte[] b = new byte[random.nextInt(512)];
        random.nextBytes(b);
        yield b;
      }
      case 1 -> valid.length == 0 ? valid : flip(valid, random);
      case 2 -> Arrays.copyOf(valid, random.nextInt(valid.length + 1));
      default -> valid;
    };
  }

  private static byte[] flip(byte[] valid, Random random) {
    if (valid.length == 0) {
      return valid;
    }
    byte[] b = valid.clone();
    for (int n = 1 + random.nextInt(4); n > 0; n--) {
      b[random.nextInt(b.length)] ^= (byte) (1 << random.nextInt(8));
    }
    return b;
  }

  private static String randomName(Random random) {
    char[] c = new char[1 + random.nextInt(24)];
    for (int i = 0; i < c.length; i++) {
      c[i] = (char) (0x21 + random.nextInt(0x5e));
    }
    return new String(c);
  }
}
