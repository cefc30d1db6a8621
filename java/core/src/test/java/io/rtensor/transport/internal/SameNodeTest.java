package io.rtensor.transport.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rtensor.auth.StreamAuth;
import io.rtensor.device.NativeHost;
import io.rtensor.handle.RTensor;
import io.rtensor.ipc.SharedSegment;
import io.rtensor.ipc.UnixSocket;
import io.rtensor.runtime.SessionSecret;
import io.rtensor.tensor.DType;
import io.rtensor.tensor.Shape;
import io.rtensor.tensor.Tensor;
import io.rtensor.tensor.TensorBatch;
import io.rtensor.transport.DataPlaneAuthException;
import io.rtensor.transport.DataPlaneException;
import io.rtensor.transport.FlightDataPlane;
import io.rtensor.transport.FlightShardServer;
import io.rtensor.transport.MissingShardsException;
import io.rtensor.transport.SeededBytes;
import io.rtensor.wire.DecodeLimits;
import io.rtensor.wire.ShardCodec;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Same-node fetches through shared memory: a store and its consumers in this JVM and in a child
 * one, with the faults the design must survive (a consumer killed while it maps a shard, a clear
 * while mapped, a wrong secret, bad replies).
 */
class SameNodeTest {
  private static final String SECRET = SessionSecret.generate().value();
  private static final long SHARD = 8L << 20;

  private RootAllocator root;
  private BufferAllocator consumer;
  private FlightShardServer server;
  private FlightDataPlane plane;

  @BeforeEach
  void start() throws IOException {
    root = new RootAllocator();
    consumer = root.newChildAllocator("consumer", 0, Long.MAX_VALUE);
    server = FlightShardServer.builder(root, SECRET).start();
    plane = FlightDataPlane.builder(root, SECRET).putTarget(server.address()).build();
  }

  @AfterEach
  void stop() {
    plane.close();
    server.close();
    assertEquals(0, consumer.getAllocatedMemory(), "every fetched buffer was freed");
    consumer.close();
    root.close();
  }

  private RTensor putSeeded(long bytes, long seed) {
    try (BufferAllocator scratch = root.newChildAllocator("scratch", 0, Long.MAX_VALUE);
        Tensor t = Tensor.allocate(scratch, DType.UINT8, Shape.of(bytes))) {
      SeededBytes.fill(t.buffer().memoryAddress(), bytes, seed);
      return plane.put(TensorBatch.of(RTensor.TENSOR_COLUMN, t));
    }
  }

  private static void assertSeed(TensorBatch b, long seed, String what) {
    Tensor t = b.tensor(RTensor.TENSOR_COLUMN);
    assertEquals(
        SeededBytes.checksum(seed, t.byteSize()),
        NativeHost.checksum(t.memoryAddress(), t.byteSize()),
        what + " holds the stored bytes");
  }

  /** Lines of /proc/{pid}/maps that map a shard segment. */
  private static List<String> segmentMappings(String pid) throws IOException {
    try (Stream<String> lines = Files.lines(Path.of("/proc", pid, "maps"))) {
      return lines.filter(l -> l.contains("memfd:rtensor-shard")).toList();
    }
  }

  /** Descriptors of shard segments this process holds. */
  private static long segmentDescriptors() throws IOException {
    try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
      return fds.filter(
              p -> {
                try {
                  return Files.readSymbolicLink(p).toString().contains("memfd:rtensor-shard");
                } catch (IOException e) {
                  return false;
                }
              })
          .count();
    }
  }

  private static long openDescriptors() throws IOException {
    try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
      return fds.count();
    }
  }

  private static boolean inSegment(long address) throws IOException {
    for (String line : segmentMappings("self")) {
      String[] range = line.substring(0, line.indexOf(' ')).split("-");
      if (Long.parseUnsignedLong(range[0], 16) <= address
          && address < Long.parseUnsignedLong(range[1], 16)) {
        return line.split(" +")[1].startsWith("r--s");
      }
    }
    return false;
  }

  private Path socketPath() {
    try (FlightShardClient c = new FlightShardClient(server.address(), root, SECRET)) {
      return Path.of(c.action(SameNodeWire.ACTION, new byte[0]).get("path").asText());
    }
  }

  @Test
  void largeShardsComeThroughSharedMemoryIntactAndSmallOnesOverFlight() throws IOException {
    List<RTensor> handles = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      handles.add(putSeeded(SHARD, i));
    }
    handles.add(putSeeded(4096, 4));
    assertEquals(
        4, segmentMappings("self").size(), "the store keeps each large shard in a segment");
    Map<String, TensorBatch> copies = plane.fetch(handles, consumer);
    for (int i = 0; i < handles.size(); i++) {
      TensorBatch b = copies.get(handles.get(i).shardId());
      assertSeed(b, i, "copy " + i);
      assertFalse(b.isReadOnly());
      assertFalse(inSegment(b.tensor(RTensor.TENSOR_COLUMN).memoryAddress()), "a copy is ours");
    }
    copies.values().forEach(TensorBatch::close);
    assertEquals(4, segmentMappings("self").size(), "a copying fetch leaves no mapping");

    Map<String, TensorBatch> mapped = plane.fetchReadOnly(handles, consumer);
    for (int i = 0; i < 4; i++) {
      TensorBatch b = mapped.get(handles.get(i).shardId());
      assertSeed(b, i, "mapping " + i);
      assertTrue(
          inSegment(b.tensor(RTensor.TENSOR_COLUMN).memoryAddress()),
          "shard " + i + " is read in place, through a read-only shared mapping");
    }
    assertTrue(mapped.get(handles.get(4).shardId()).isReadOnly(), "the small one is a view");
    assertEquals(8, segmentMappings("self").size());
    mapped.values().forEach(TensorBatch::close);
    assertEquals(4, segmentMappings("self").size(), "closing the tensors unmaps the shards");
    plane.clear(handles);
    assertEquals(0, segmentMappings("self").size(), "clearing frees the store's segments");
    assertEquals(0, segmentDescriptors());
  }

  @Test
  void aShardPutInTheStoresOwnProcessIsServedThroughSharedMemory() throws IOException {
    try (BufferAllocator scratch = root.newChildAllocator("scratch", 0, Long.MAX_VALUE);
        Tensor t = Tensor.allocate(scratch, DType.UINT8, Shape.of(SHARD))) {
      SeededBytes.fill(t.buffer().memoryAddress(), SHARD, 61);
      server.putLocal("local-61", TensorBatch.of(RTensor.TENSOR_COLUMN, t));
    }
    RTensor h =
        RTensor.ofTensor(
            "local-61",
            io.rtensor.handle.ShardLocation.flight(server.address()),
            DType.UINT8,
            Shape.of(SHARD));
    try (TensorBatch b = plane.fetchReadOnly(List.of(h), consumer).get(h.shardId())) {
      assertSeed(b, 61, "the shard");
      assertTrue(inSegment(b.tensor(RTensor.TENSOR_COLUMN).memoryAddress()));
    }
  }

  @Test
  void aStoreWithoutSameNodeFetchesServesOverFlight() throws IOException {
    try (FlightShardServer old = FlightShardServer.builder(root, SECRET).sameNode(false).start();
        FlightDataPlane p = FlightDataPlane.builder(root, SECRET).putTarget(old.address()).build();
        BufferAllocator scratch = root.newChildAllocator("scratch", 0, Long.MAX_VALUE);
        Tensor t = Tensor.allocate(scratch, DType.UINT8, Shape.of(SHARD))) {
      SeededBytes.fill(t.buffer().memoryAddress(), SHARD, 7);
      RTensor h = p.put(TensorBatch.of(RTensor.TENSOR_COLUMN, t));
      assertEquals(0, segmentMappings("self").size(), "no segment without same-node fetches");
      try (TensorBatch b = p.fetchReadOnly(List.of(h), consumer).get(h.shardId())) {
        assertSeed(b, 7, "the shard");
      }
    }
  }

  @Test
  void aStoreClearedWhileMappedKeepsTheMappedBytesUntilTheyAreClosed() throws IOException {
    RTensor h = putSeeded(SHARD, 11);
    TensorBatch b = plane.fetchReadOnly(List.of(h), consumer).get(h.shardId());
    try {
      assertEquals(2, segmentMappings("self").size(), "the store's mapping and the reader's");
      assertEquals(1, plane.clear(List.of(h)).get(server.address()).cleared());
      assertEquals(0, plane.stats(server.address()).entries());
      assertEquals(0, segmentDescriptors(), "the store closed its descriptor");
      assertEquals(1, segmentMappings("self").size(), "the reader's mapping stays");
      assertSeed(b, 11, "the mapped shard after the clear");
      assertThrows(MissingShardsException.class, () -> plane.fetch(List.of(h), consumer));
    } finally {
      b.close();
    }
    assertEquals(0, segmentMappings("self").size(), "closing the last tensor unmaps it");
  }

  @Test
  void aConsumerKilledWhileMappedLeavesTheStoreServingAndItsSegmentFreedOnClear() throws Exception {
    RTensor h = putSeeded(SHARD, 21);
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.add("-cp");
    cmd.add(System.getProperty("java.class.path"));
    cmd.add("--add-opens=java.base/java.nio=ALL-UNNAMED");
    cmd.add(SameNodeConsumerMain.class.getName());
    cmd.add(server.address());
    cmd.add(h.shardId());
    cmd.add(Long.toString(SHARD));
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
    pb.environment().put(SessionSecret.ENV, SECRET);
    Process child = pb.start();
    try {
      BufferedReader out =
          new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8));
      String line;
      StringBuilder seen = new StringBuilder();
      while ((line = out.readLine()) != null && !line.startsWith("MAPPED ")) {
        seen.append(line).append('\n');
      }
      assertTrue(line != null, "the consumer mapped the shard; it printed:\n" + seen);
      assertEquals(
          SeededBytes.checksum(21, SHARD), Long.parseLong(line.substring(7)), "consumer's bytes");
      assertEquals(
          1,
          segmentMappings(Long.toString(child.pid())).size(),
          "the consumer maps the segment read-only");
    } finally {
      child.destroyForcibly();
      assertTrue(child.waitFor(30, TimeUnit.SECONDS));
    }
    try (TensorBatch b = plane.fetch(List.of(h), consumer).get(h.shardId())) {
      assertSeed(b, 21, "the shard fetched after the consumer died");
    }
    plane.clear(List.of(h));
    assertEquals(0, segmentMappings("self").size());
    assertEquals(0, segmentDescriptors(), "nothing holds the segment: its memory is freed");
  }

  @Test
  void aWrongSecretGetsNoDescriptorAndTheStoreKeepsServing() throws IOException {
    RTensor h = putSeeded(SHARD, 31);
    Path path = socketPath();
    assertEquals(1, segmentDescriptors(), "the store's own");
    SameNodeFetcher wrong =
        new SameNodeFetcher(
            SessionSecret.generate().key(SessionSecret.DATA_PLANE), DecodeLimits.DEFAULT, null);
    Map<String, TensorBatch> out = new java.util.HashMap<>();
    DataPlaneAuthException e =
        assertThrows(
            DataPlaneAuthException.class,
            () ->
                wrong.get(
                    server.address(),
                    path,
                    List.of(h.shardId()),
                    consumer,
                    true,
                    Duration.ofSeconds(10),
                    out));
    assertTrue(e.getMessage().contains("could not prove"), e.getMessage());
    assertTrue(out.isEmpty());
    assertEquals(1, segmentDescriptors(), "no descriptor reached the client");

    // A client that skips the handshake and asks at once is dropped without an answer.
    try (UnixSocket raw = UnixSocket.connect(path, 10_000)) {
      byte[] ids = FlightWire.encodeIds(List.of(h.shardId()));
      SameNodeWire.sendFrame(
          raw, ByteBuffer.allocate(1 + ids.length).put(SameNodeWire.GET).put(ids).array());
      assertThrows(RuntimeException.class, () -> SameNodeWire.receiveFrame(raw));
    }
    assertEquals(1, segmentDescriptors());

    // A plane with the wrong secret is refused by the Flight handshake, before any negotiation.
    try (FlightDataPlane p =
        FlightDataPlane.builder(root, SessionSecret.generate().value())
            .putTarget(server.address())
            .retries(1, 0)
            .build()) {
      assertThrows(DataPlaneAuthException.class, () -> p.fetch(List.of(h), consumer));
    }
    try (TensorBatch b = plane.fetch(List.of(h), consumer).get(h.shardId())) {
      assertSeed(b, 31, "the shard, fetched with the right secret afterwards");
    }
  }

  @Test
  void theSocketIsPrivateAndItsNameUnguessable() throws IOException {
    Path path = socketPath();
    assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(path)));
    assertEquals(
        "rwx------",
        PosixFilePermissions.toString(Files.getPosixFilePermissions(path.getParent())));
    assertTrue(path.getFileName().toString().matches("[0-9a-f]{32}\\.sock"), path.toString());
  }

  @Test
  void aMissingShardFailsTheFetchAndLosesNothingStored() {
    RTensor kept = putSeeded(SHARD, 41);
    RTensor gone = putSeeded(SHARD, 42);
    plane.clear(List.of(gone));
    MissingShardsException e =
        assertThrows(
            MissingShardsException.class, () -> plane.fetch(List.of(kept, gone), consumer));
    assertEquals(List.of(gone.shardId()), e.missingIds());
    try (TensorBatch b = plane.fetch(List.of(kept), consumer).get(kept.shardId())) {
      assertSeed(b, 41, "the shard still stored");
    }
  }

  @Test
  void aMalformedRequestGetsAnErrorAndTheServerKeepsServing() throws IOException {
    RTensor h = putSeeded(SHARD, 51);
    Path path = socketPath();
    byte[] key = SessionSecret.of(SECRET).key(SessionSecret.DATA_PLANE);
    try (UnixSocket s = UnixSocket.connect(path, 10_000)) {
      StreamAuth.client(
          key, SameNodeWire.identity(server.address(), path.toString()), SameNodeWire.messages(s));
      SameNodeWire.sendFrame(s, new byte[] {SameNodeWire.GET, 'b', 'a', 'd', ' ', '/'});
      assertEquals(SameNodeWire.ERROR, SameNodeWire.receiveFrame(s)[0]);
      String message = new String(SameNodeWire.receiveFrame(s), StandardCharsets.UTF_8);
      assertTrue(message.contains("malformed request"), message);
    }
    try (UnixSocket s = UnixSocket.connect(path, 10_000)) {
      StreamAuth.client(
          key, SameNodeWire.identity(server.address(), path.toString()), SameNodeWire.messages(s));
      byte[] frame = ByteBuffer.allocate(4).putInt(Integer.MAX_VALUE).array();
      s.send(frame, -1); // a frame far past the limit: the server drops the connection
      assertThrows(RuntimeException.class, () -> SameNodeWire.receiveFrame(s));
    }
    try (TensorBatch b = plane.fetch(List.of(h), consumer).get(h.shardId())) {
      assertSeed(b, 51, "the shard");
    }
  }

  // ------------------------------------------------------------ bad replies from a store

  /**
   * Runs a store at a new socket that admits the session's clients and answers with {@code reply}.
   */
  private record FakeStore(Path path, Thread thread) {}

  private static FakeStore fakeStore(String location, Consumer<UnixSocket> reply)
      throws IOException {
    Path dir =
        Files.createTempDirectory(
            "rtensor-fake-",
            PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
    Path path = dir.resolve("fake.sock");
    UnixSocket listener = UnixSocket.listen(path);
    byte[] key = SessionSecret.of(SECRET).key(SessionSecret.DATA_PLANE);
    Thread t =
        new Thread(
            () -> {
              try (listener;
                  UnixSocket s = listener.accept()) {
                s.setTimeoutMillis(10_000);
                StreamAuth.server(
                    key,
                    SameNodeWire.identity(location, path.toString()),
                    SameNodeWire.messages(s));
                SameNodeWire.receiveFrame(s);
                reply.accept(s);
              } catch (RuntimeException e) {
                // the client hung up: what the tests expect of some replies
              }
            });
    t.setDaemon(true);
    t.start();
    return new FakeStore(path, t);
  }

  /**
   * A reply of one record of {@code kind} declaring {@code declared} bytes, sent with a read-only
   * descriptor of a new segment of {@code size} bytes that {@code fill} writes first.
   */
  private static Consumer<UnixSocket> segmentReply(
      byte kind, long declared, long size, Consumer<SharedSegment> fill) {
    return s -> {
      try (SharedSegment seg = SharedSegment.create(size)) {
        fill.accept(seg);
        int fd = seg.readOnlyDescriptor();
        okRecord(s, kind, declared, fd);
        UnixSocket.closeDescriptor(fd);
      }
    };
  }

  private static void okRecord(UnixSocket s, byte kind, long length, int fd) {
    SameNodeWire.sendFrame(s, ByteBuffer.allocate(5).put(SameNodeWire.OK).putInt(1).array());
    s.send(ByteBuffer.allocate(9).put(kind).putLong(length).array(), fd);
  }

  private void assertRefused(Consumer<UnixSocket> reply, String expected) throws IOException {
    assertRefused(DecodeLimits.DEFAULT, reply, expected);
  }

  private void assertRefused(DecodeLimits limits, Consumer<UnixSocket> reply, String expected)
      throws IOException {
    long fds = openDescriptors();
    SameNodeFetcher f =
        new SameNodeFetcher(SessionSecret.of(SECRET).key(SessionSecret.DATA_PLANE), limits, null);
    FakeStore store = fakeStore("fake:1", reply);
    Path path = store.path();
    Map<String, TensorBatch> out = new java.util.HashMap<>();
    DataPlaneException e =
        assertThrows(
            DataPlaneException.class,
            () ->
                f.get("fake:1", path, List.of("s"), consumer, false, Duration.ofSeconds(10), out));
    assertTrue(e.getMessage().contains(expected), e.getMessage());
    assertTrue(out.isEmpty());
    try {
      store.thread().join(10_000);
    } catch (InterruptedException ie) {
      throw new AssertionError(ie);
    }
    assertEquals(0, consumer.getAllocatedMemory(), "nothing was allocated for it");
    assertEquals(fds, openDescriptors(), "every received descriptor was closed");
    assertEquals(0, segmentMappings("self").size(), "nothing stays mapped");
  }

  @Test
  void badRepliesAreRefusedBeforeAnythingIsMappedOrAllocated() throws IOException {
    byte[] valid;
    try (BufferAllocator a = root.newChildAllocator("enc", 0, Long.MAX_VALUE);
        Tensor t = Tensor.allocate(a, DType.UINT8, Shape.of(2L << 20))) {
      valid = ShardCodec.encode(TensorBatch.of(RTensor.TENSOR_COLUMN, t));
    }
    // A length past the decoder's limits: refused before the segment is looked at.
    assertRefused(segmentReply(SameNodeWire.SHARED, 1L << 40, 1 << 20, seg -> {}), "limits allow");
    // A segment shorter than its declared length: not mapped (a read past its end would be SIGBUS).
    assertRefused(segmentReply(SameNodeWire.SHARED, 2L << 20, 1 << 20, seg -> {}), "errno 34");
    // Bytes that are not a shard.
    assertRefused(
        segmentReply(
            SameNodeWire.SHARED,
            valid.length,
            valid.length,
            seg -> SeededBytes.fill(seg.address(), valid.length, 3)),
        "not valid");
    // A shard whose body the reader's limits refuse, in a segment of the right size.
    assertRefused(
        DecodeLimits.DEFAULT.withMaxBodyBytes(1 << 20),
        segmentReply(SameNodeWire.SHARED, valid.length, valid.length, seg -> copyInto(seg, valid)),
        "not valid");
    // A record that says "fetch it over Flight" yet carries a descriptor.
    assertRefused(
        segmentReply(SameNodeWire.NOT_SHARED, valid.length, valid.length, seg -> {}),
        "with a descriptor");
    // A status frame that is none of the three.
    assertRefused(s -> SameNodeWire.sendFrame(s, new byte[] {9, 9}), "unexpected status");
    // The store hangs up mid-reply.
    assertRefused(
        s ->
            SameNodeWire.sendFrame(
                s, ByteBuffer.allocate(5).put(SameNodeWire.OK).putInt(1).array()),
        "same-node fetch from");
  }

  private static void copyInto(SharedSegment seg, byte[] bytes) {
    try (RootAllocator a = new RootAllocator();
        var buf = a.buffer(bytes.length)) {
      buf.setBytes(0, bytes);
      NativeHost.copy(seg.address(), buf.memoryAddress(), bytes.length, 1);
    }
  }
}
