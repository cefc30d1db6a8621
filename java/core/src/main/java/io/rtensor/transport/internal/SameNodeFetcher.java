package io.rtensor.transport.internal;

import com.fasterxml.jackson.databind.JsonNode;
import io.rtensor.auth.StreamAuth;
import io.rtensor.ipc.SharedMapping;
import io.rtensor.ipc.SharedMemoryException;
import io.rtensor.ipc.UnixSocket;
import io.rtensor.memory.BlockPool;
import io.rtensor.memory.BulkCopier;
import io.rtensor.runtime.HostPort;
import io.rtensor.tensor.TensorBatch;
import io.rtensor.transport.DataPlaneAuthException;
import io.rtensor.transport.DataPlaneException;
import io.rtensor.transport.MissingShardsException;
import io.rtensor.wire.DecodeLimits;
import io.rtensor.wire.ShardCodec;
import io.rtensor.wire.WireFormatException;
import java.net.InetAddress;
import java.net.NetworkInterface;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;
import org.apache.arrow.flight.FlightRuntimeException;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.ForeignAllocation;

/**
 * The client side of same-node fetches ({@link SameNodeServer}): a shard whose store runs on this
 * node comes as a descriptor of its shared-memory segment over a Unix socket, and is mapped
 * read-only here. A plain fetch copies it once into the caller's memory (then unmaps it); a
 * read-only fetch hands out read-only tensors over the mapping itself, which hold it until the last
 * is closed.
 *
 * <p>Negotiated per store, once: a store whose host is not an address of this machine, whose boot
 * id differs, or that does not know the {@link SameNodeWire#ACTION} action is fetched over Flight
 * from then on. Shards the store did not put in shared memory (small ones) are fetched over Flight
 * by the caller's fallback.
 *
 * <p>Validation is as on the Flight path: a length past the decoder's limits is refused before
 * anything is mapped or allocated, a segment that is not sealed or is shorter than its length is
 * refused before it is mapped, and each shard is decoded with the limits over the mapping before
 * any memory is allocated for its copy. A failure frees everything the fetch made and changes
 * nothing at the store.
 */
public final class SameNodeFetcher {
  private static final Endpoint NONE = new Endpoint(null);

  /**
   * Accounts the mappings a plain fetch copies from, each unmapped once copied: process-wide and
   * never closed, as it holds nothing between fetches.
   */
  private static final BufferAllocator TRANSIENT_MAPPINGS =
      new org.apache.arrow.memory.RootAllocator();

  private final byte[] key;
  private final DecodeLimits limits;
  private final BlockPool blocks; // null: copies land in plain buffers of the target allocator
  private final Map<String, Endpoint> endpoints = new ConcurrentHashMap<>();

  private record Endpoint(Path path) {}

  public SameNodeFetcher(byte[] key, DecodeLimits limits, BlockPool blocks) {
    this.key = key.clone();
    this.limits = limits;
    this.blocks = blocks;
  }

  /**
   * Fetches {@code ids} from the store {@code client} talks to: through shared memory if it is on
   * this node, the rest (or all) through {@code overFlight}. {@code readOnly}: the shared shards
   * are read-only tensors over their mappings instead of copies.
   *
   * @throws MissingShardsException if the store lacks some of the ids (nothing is returned)
   */
  public Map<String, TensorBatch> fetch(
      FlightShardClient client,
      List<String> ids,
      Map<String, Long> sizes,
      BufferAllocator target,
      boolean readOnly,
      Duration stall,
      Function<List<String>, Map<String, TensorBatch>> overFlight) {
    List<String> shared = new ArrayList<>();
    for (String id : ids) {
      if (sizes.getOrDefault(id, 0L) >= SharedShardMemory.MIN_SHARED_BYTES / 2) {
        shared.add(id);
      }
    }
    Endpoint endpoint = shared.isEmpty() ? NONE : endpoint(client);
    if (endpoint.path() == null) {
      return overFlight.apply(ids);
    }
    Map<String, TensorBatch> out = new LinkedHashMap<>();
    try {
      List<String> rest = new ArrayList<>(ids);
      rest.removeAll(get(client.address(), endpoint.path(), shared, target, readOnly, stall, out));
      if (!rest.isEmpty()) {
        out.putAll(overFlight.apply(rest));
      }
      return out;
    } catch (RuntimeException | Error e) {
      out.values().forEach(TensorBatch::close);
      throw e;
    }
  }

  /** The store's socket, negotiated once per store; {@link #NONE} if it has none for us. */
  private Endpoint endpoint(FlightShardClient client) {
    Endpoint known = endpoints.get(client.address());
    if (known != null) {
      return known;
    }
    Endpoint found = NONE;
    try {
      if (isThisMachine(HostPort.parse(client.address()).host())) {
        JsonNode n = client.action(SameNodeWire.ACTION, new byte[0]);
        String bootId = SameNodeWire.bootId();
        if (!bootId.isEmpty() && bootId.equals(n.path("bootId").asText()) && n.hasNonNull("path")) {
          found = new Endpoint(Path.of(n.get("path").asText()));
        }
      }
    } catch (DataPlaneException e) {
      if (e.getCause() instanceof FlightRuntimeException f
          && FlightShardClient.isConnectionError(f)) {
        return NONE; // not known yet: ask again next time, Flight reports the failure now
      }
      // an older store: no such action
    } catch (java.io.IOException | RuntimeException e) {
      // an address this machine cannot resolve: not this machine
    }
    endpoints.put(client.address(), found);
    return found;
  }

  private static boolean isThisMachine(String host) throws java.io.IOException {
    InetAddress a = InetAddress.getByName(host);
    return a.isLoopbackAddress() || NetworkInterface.getByInetAddress(a) != null;
  }

  /**
   * One request over a new connection; decodes the shared shards into {@code out} and returns their
   * ids (the others are the caller's to fetch).
   */
  List<String> get(
      String location,
      Path path,
      List<String> ids,
      BufferAllocator target,
      boolean readOnly,
      Duration stall,
      Map<String, TensorBatch> out) {
    int timeout = (int) Math.min(Integer.MAX_VALUE, Math.max(1, stall.toMillis()));
    UnixSocket socket;
    try {
      socket = UnixSocket.connect(path, timeout);
    } catch (SharedMemoryException e) {
      throw new DataPlaneException(location, "same-node socket " + path + " refused: " + e, e);
    }
    List<String> got = new ArrayList<>();
    try (socket) {
      try {
        StreamAuth.client(
            key, SameNodeWire.identity(location, path.toString()), SameNodeWire.messages(socket));
      } catch (StreamAuth.RefusedException e) {
        throw new DataPlaneAuthException(location, e.getMessage(), e);
      }
      byte[] request = FlightWire.encodeIds(ids);
      SameNodeWire.sendFrame(
          socket,
          ByteBuffer.allocate(1 + request.length).put(SameNodeWire.GET).put(request).array());
      byte[] status = SameNodeWire.receiveFrame(socket);
      if (status.length == 1 && status[0] == SameNodeWire.MISSING) {
        List<String> missing =
            FlightWire.parseIds(SameNodeWire.receiveFrame(socket), "missing ids");
        throw new MissingShardsException(Map.of(location, missing));
      }
      if (status.length == 1 && status[0] == SameNodeWire.ERROR) {
        throw new DataPlaneException(
            location,
            "same-node fetch refused: "
                + new String(
                    SameNodeWire.receiveFrame(socket), java.nio.charset.StandardCharsets.UTF_8));
      }
      if (status.length != 5
          || status[0] != SameNodeWire.OK
          || ByteBuffer.wrap(status, 1, 4).getInt() != ids.size()) {
        throw new IllegalArgumentException(
            "unexpected status frame of " + status.length + " bytes");
      }
      byte[] record = new byte[SameNodeWire.RECORD_BYTES];
      for (String id : ids) {
        int fd = socket.receive(record);
        try {
          ByteBuffer r = ByteBuffer.wrap(record);
          byte kind = r.get();
          long length = r.getLong();
          if (kind == SameNodeWire.NOT_SHARED && fd < 0) {
            continue;
          }
          if (kind != SameNodeWire.SHARED || fd < 0) {
            throw new IllegalArgumentException(
                "record of shard "
                    + id
                    + ": kind "
                    + kind
                    + (fd < 0 ? " without" : " with")
                    + " a descriptor");
          }
          checkLength(id, length);
          out.put(id, decode(fd, length, target, readOnly));
          got.add(id);
        } finally {
          UnixSocket.closeDescriptor(fd);
        }
      }
      return got;
    } catch (IllegalArgumentException e) {
      throw new DataPlaneException(location, "bad same-node reply: " + e.getMessage(), e);
    } catch (WireFormatException e) {
      throw new DataPlaneException(
          location, "a same-node shard is not valid: " + e.getMessage(), e);
    } catch (SharedMemoryException e) {
      if (e.isTimeout()) {
        throw new io.rtensor.transport.FetchStalledException(
            location,
            ids,
            stall,
            "no answer from "
                + location
                + " on its same-node socket for "
                + stall.toMillis()
                + " ms (stall deadline): the peer is not answering");
      }
      throw new DataPlaneException(
          location, "same-node fetch from " + path + " failed: " + e.getMessage(), e);
    }
  }

  /** A shard's stream is its body, metadata messages and framing: refuse more before mapping. */
  private void checkLength(String id, long length) {
    long most = limits.maxBodyBytes() + 4L * limits.maxMetadataBytes() + 4096;
    if (length < 1 || length > most) {
      throw new IllegalArgumentException(
          "shard " + id + " declares " + length + " bytes; the decoder's limits allow " + most);
    }
  }

  private TensorBatch decode(int fd, long length, BufferAllocator target, boolean readOnly) {
    SharedMapping mapping = SharedMapping.map(fd, length);
    // A mapping to copy from is the store's memory, not the caller's: it is not counted there.
    BufferAllocator owner = readOnly ? target : TRANSIENT_MAPPINGS;
    ArrowBuf mapped;
    try {
      mapped = owner.wrapForeignAllocation(new Mapped(mapping));
    } catch (RuntimeException | Error e) {
      mapping.close();
      throw e;
    }
    try (mapped;
        TensorBatch view = ShardCodec.decode(mapped, 0, length, owner, limits)) {
      if (readOnly) {
        return view.readOnlyView();
      }
      try (ArrowBuf copy =
          blocks != null && length >= BlockPool.MIN_BLOCK
              ? blocks.buffer(target, length)
              : target.buffer(length)) {
        BulkCopier.shared().copy(copy.memoryAddress(), mapping.address(), length);
        return ShardCodec.decode(copy, 0, length, target, limits);
      }
    }
  }

  /** A mapping lent to Arrow: unmapped when the last buffer over it is closed. */
  private static final class Mapped extends ForeignAllocation {
    private final SharedMapping mapping;

    Mapped(SharedMapping mapping) {
      super(mapping.size(), mapping.address());
      this.mapping = mapping;
    }

    @Override
    protected void release0() {
      mapping.close();
    }
  }
}
