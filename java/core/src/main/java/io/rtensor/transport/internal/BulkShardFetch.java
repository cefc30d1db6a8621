package io.rtensor.transport.internal;

import io.rtensor.memory.BlockPool;
import io.rtensor.tensor.TensorBatch;
import io.rtensor.transport.DataPlaneAuthException;
import io.rtensor.transport.DataPlaneException;
import io.rtensor.transport.FetchStalledException;
import io.rtensor.transport.FetchTimeoutException;
import io.rtensor.transport.MissingShardsException;
import io.rtensor.wire.DecodeLimits;
import io.rtensor.wire.ShardCodec;
import io.rtensor.wire.WireFormatException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedByInterruptException;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;

/**
 * One request on a {@link BulkShardServer}'s side channel: the shards' bytes land once in Arrow
 * memory (a block of the pool for a large shard) and are decoded there, checked against the same
 * {@link DecodeLimits} as on the Flight path, each length before anything is allocated for it.
 */
final class BulkShardFetch {
  private BulkShardFetch() {}

  /**
   * Shards shorter than this that follow one another are read into one buffer of at most this many
   * bytes, and decoded where they lie in it.
   */
  static final long PACK_BYTES = 1 << 20;

  /** Framing an encoded shard adds to its body at most: two messages and the end marker. */
  static long maxShardBytes(DecodeLimits limits) {
    return limits.maxBodyBytes() + 2L * limits.maxMetadataBytes() + 64;
  }

  /**
   * Fetches {@code ids} from the side channel at {@code endpoint} of the store at {@code address}
   * (the name errors give), presenting {@code token}; fails with {@link FetchStalledException} when
   * no byte moves for {@code stall}, {@link FetchTimeoutException} at {@code deadlineNanos}, {@link
   * MissingShardsException} naming the ids not stored, {@link DataPlaneAuthException} when the
   * token is refused. Nothing decoded is left on a failure.
   */
  static Map<String, TensorBatch> get(
      String address,
      InetSocketAddress endpoint,
      byte[] token,
      List<String> ids,
      BufferAllocator target,
      BlockPool pool,
      DecodeLimits limits,
      Duration stall,
      long startNanos,
      long deadlineNanos) {
    Map<String, TensorBatch> out = new LinkedHashMap<>();
    SocketChannel ch = null;
    ChannelWatch watch = null;
    try {
      ch = SocketChannel.open();
      watch = ChannelWatch.startNanos(ch, stall.toNanos(), deadlineNanos);
      ch.connect(endpoint);
      ch.socket().setTcpNoDelay(true);
      byte[] body = FlightWire.encodeIds(ids);
      ByteBuffer request =
          ByteBuffer.allocate(BulkShardServer.MAGIC.length + token.length + 4 + body.length);
      request.put(BulkShardServer.MAGIC).put(token).putInt(body.length).put(body).flip();
      watch.writeFully(ch, request);
      ByteBuffer status = ByteBuffer.allocate(1);
      watch.readFully(ch, status);
      byte code = status.get(0);
      if (code != BulkShardServer.OK) {
        ByteBuffer len = ByteBuffer.allocate(2);
        watch.readFully(ch, len);
        ByteBuffer text = ByteBuffer.allocate(Math.min(len.getShort(0) & 0xffff, 4096));
        watch.readFully(ch, text);
        String reason = new String(text.array(), StandardCharsets.UTF_8);
        throw code == BulkShardServer.REFUSED
            ? new DataPlaneAuthException(address, "the bulk channel refused: " + reason, null)
            : new DataPlaneException(address, "the bulk channel refused the request: " + reason);
      }
      ByteBuffer lengths = ByteBuffer.allocate(8 * ids.size());
      watch.readFully(ch, lengths);
      long[] length = new long[ids.size()];
      List<String> missing = new ArrayList<>();
      long max = maxShardBytes(limits);
      for (int i = 0; i < ids.size(); i++) {
        length[i] = lengths.getLong(8 * i);
        if (length[i] == -1) {
          missing.add(ids.get(i));
        } else if (length[i] <= 0 || length[i] > max) {
          throw new DataPlaneException(
              address,
              "the bulk channel announced shard "
                  + ids.get(i)
                  + " of "
                  + length[i]
                  + " bytes (the decode limits allow 1 to "
                  + max
                  + ")");
        }
      }
      if (!missing.isEmpty()) {
        throw new MissingShardsException(Map.of(address, missing));
      }
      int i = 0;
      while (i < ids.size()) {
        if (length[i] >= PACK_BYTES) {
          out.put(ids.get(i), receive(ch, watch, length[i], target, pool, limits));
          i++;
          continue;
        }
        // Small shards that follow one another land in one buffer, read at once.
        int end = i;
        long bytes = 0;
        while (end < ids.size() && length[end] < PACK_BYTES && bytes + length[end] <= PACK_BYTES) {
          bytes += length[end++];
        }
        try (ArrowBuf buf = target.buffer(bytes)) {
          readInto(ch, watch, buf, bytes);
          long at = 0;
          for (; i < end; i++) {
            out.put(ids.get(i), ShardCodec.decode(buf, at, length[i], target, limits));
            at += length[i];
          }
        }
      }
      return out;
    } catch (IOException e) {
      out.values().forEach(TensorBatch::close);
      throw failure(address, ids, e, watch, stall, startNanos, deadlineNanos);
    } catch (WireFormatException e) {
      out.values().forEach(TensorBatch::close);
      throw new DataPlaneException(address, "server sent a corrupt shard: " + e.getMessage(), e);
    } catch (RuntimeException | Error e) {
      out.values().forEach(TensorBatch::close);
      throw e;
    } finally {
      if (watch != null) {
        watch.close();
      }
      if (ch != null) {
        try {
          ch.close();
        } catch (IOException ignored) {
          // closed either way
        }
      }
    }
  }

  /** Reads one shard of {@code length} bytes into Arrow memory and decodes it there. */
  private static TensorBatch receive(
      SocketChannel ch,
      ChannelWatch watch,
      long length,
      BufferAllocator target,
      BlockPool pool,
      DecodeLimits limits)
      throws IOException {
    try (ArrowBuf buf =
        pool != null && length >= BlockPool.MIN_BLOCK
            ? pool.buffer(target, length)
            : target.buffer(length)) {
      readInto(ch, watch, buf, length);
      return ShardCodec.decode(buf, 0, length, target, limits);
    }
  }

  private static void readInto(SocketChannel ch, ChannelWatch watch, ArrowBuf buf, long length)
      throws IOException {
    for (long done = 0; done < length; ) {
      int chunk = (int) Math.min(1 << 30, length - done);
      watch.readFully(ch, buf.nioBuffer(done, chunk));
      done += chunk;
    }
  }

  private static RuntimeException failure(
      String address,
      List<String> ids,
      IOException e,
      ChannelWatch watch,
      Duration stall,
      long startNanos,
      long deadlineNanos) {
    ChannelWatch.Expiry expired = watch == null ? ChannelWatch.Expiry.NONE : watch.expired();
    if (expired == ChannelWatch.Expiry.DEADLINE) {
      return new FetchTimeoutException(
          address,
          ids,
          Duration.ofNanos(deadlineNanos - startNanos),
          "no complete answer from " + address + " within the fetch's overall deadline");
    }
    if (expired == ChannelWatch.Expiry.STALL) {
      return new FetchStalledException(
          address,
          ids,
          stall,
          "no bytes from "
              + address
              + " for "
              + stall.toMillis()
              + " ms (stall deadline) on its bulk channel: the peer is not answering");
    }
    if (e instanceof ClosedByInterruptException) {
      Thread.currentThread().interrupt();
      return new DataPlaneException(address, "interrupted while fetching", e);
    }
    return new DataPlaneException(address, "the bulk channel failed: " + e, e);
  }
}
