package io.rtensor.transport.internal;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.apache.arrow.memory.ArrowBuf;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The bulk side channel of a Flight shard server: a plain TCP endpoint beside Flight that sends
 * stored shards as they are stored, each its length then its bytes straight from the store's
 * memory, with none of gRPC's HTTP/2 framing, message splitting or flow-control windows between the
 * bytes and the socket. Flight stays the protocol: a client learns this endpoint's port from the
 * Flight action {@value #ACTION} on its authenticated session, and pyarrow and clients that do not
 * ask keep fetching through DoGet. Served only in plaintext (a server with TLS has none).
 *
 * <p>One request a connection, all integers big-endian:
 *
 * <ol>
 *   <li>client: {@code "RTB1"}, the session token its Flight handshake got ({@link
 *       io.rtensor.auth.SessionAuth}: {@value #TOKEN_BYTES} bytes), checked by the server's own
 *       token check exactly as on a Flight call (only this server instance's unexpired tokens
 *       pass), then {@code u32 n} and {@code n} bytes of ids as in a Flight ticket ({@link
 *       FlightWire#encodeIds}, at most {@link FlightWire#MAX_REQUEST_BYTES});
 *   <li>server: {@code u8 status}: 0, then one {@code i64} per id, its stored length or -1 where it
 *       is not stored; where every id is stored, the shards' bytes follow in order. Otherwise the
 *       status is 1 (token refused) or 2 (bad request) and a {@code u16}-long UTF-8 reason follows.
 * </ol>
 *
 * <p>Every wait has a deadline: a client has {@link #REQUEST_MILLIS} to send its request, and a
 * client that reads nothing for {@link #WRITE_STALL_MILLIS} is dropped. At most {@link
 * #MAX_CONNECTIONS} connections are served at once; more are closed at once.
 */
public final class BulkShardServer implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(BulkShardServer.class);

  /** The Flight action that answers {@code {"port": p}}, this endpoint's port. */
  public static final String ACTION = "bulk-channel";

  static final byte[] MAGIC = {'R', 'T', 'B', '1'};
  static final int TOKEN_BYTES = 60;
  static final byte OK = 0;
  static final byte REFUSED = 1;
  static final byte BAD_REQUEST = 2;

  /** How long a client has to send its whole request. */
  static final long REQUEST_MILLIS = 10_000;

  /** How long a client may read nothing before it is dropped. */
  static final long WRITE_STALL_MILLIS = 120_000;

  /** Connections served at once. */
  static final int MAX_CONNECTIONS = 32;

  /** Bytes written per write call, so progress is seen between them. */
  static final int WRITE_CHUNK = 4 << 20;

  private final ShardStore store;
  private final Consumer<byte[]> tokenCheck;
  private final ServerSocketChannel listener;
  private final ThreadPoolExecutor handlers;
  private final Thread acceptor;
  private final java.util.concurrent.atomic.AtomicLong served =
      new java.util.concurrent.atomic.AtomicLong();
  private volatile boolean closed;

  /**
   * Serves {@code store} on {@code host} (a port of the system's choice); {@code tokenCheck} throws
   * for a token the Flight server would refuse.
   */
  public BulkShardServer(String host, ShardStore store, Consumer<byte[]> tokenCheck)
      throws IOException {
    this.store = Objects.requireNonNull(store, "store");
    this.tokenCheck = Objects.requireNonNull(tokenCheck, "tokenCheck");
    this.listener = ServerSocketChannel.open();
    try {
      listener.bind(new InetSocketAddress(host, 0), 64);
    } catch (IOException | RuntimeException e) {
      listener.close();
      throw e;
    }
    this.handlers =
        new ThreadPoolExecutor(
            0,
            MAX_CONNECTIONS,
            30,
            TimeUnit.SECONDS,
            new SynchronousQueue<>(),
            r -> {
              Thread t = new Thread(r, "rtensor-bulk-shards");
              t.setDaemon(true);
              return t;
            });
    this.acceptor = new Thread(this::acceptLoop, "rtensor-bulk-accept");
    acceptor.setDaemon(true);
    acceptor.start();
  }

  /** The port this endpoint listens on. */
  public int port() {
    return ((InetSocketAddress) listener.socket().getLocalSocketAddress()).getPort();
  }

  /** Requests whose shards were all sent. */
  public long requestsServed() {
    return served.get();
  }

  private void acceptLoop() {
    while (!closed) {
      SocketChannel ch;
      try {
        ch = listener.accept();
      } catch (IOException e) {
        if (!closed) {
          LOG.warn("the bulk shard endpoint stopped accepting: {}", e.toString());
        }
        return;
      }
      try {
        handlers.execute(() -> serve(ch));
      } catch (RejectedExecutionException e) {
        LOG.debug("bulk shard endpoint busy ({} connections): closing one", MAX_CONNECTIONS);
        closeQuietly(ch);
      }
    }
  }

  private void serve(SocketChannel ch) {
    try (ch;
        ChannelWatch watch = ChannelWatch.start(ch, REQUEST_MILLIS, REQUEST_MILLIS)) {
      ch.socket().setTcpNoDelay(true);
      ByteBuffer head = ByteBuffer.allocate(MAGIC.length + TOKEN_BYTES + 4);
      watch.readFully(ch, head);
      head.flip();
      byte[] magic = new byte[MAGIC.length];
      head.get(magic);
      if (!java.util.Arrays.equals(magic, MAGIC)) {
        refuse(ch, BAD_REQUEST, "not an rtensor bulk request");
        return;
      }
      byte[] token = new byte[TOKEN_BYTES];
      head.get(token);
      try {
        tokenCheck.accept(token);
      } catch (RuntimeException e) {
        refuse(ch, REFUSED, "session token refused: " + e.getMessage());
        return;
      }
      int n = head.getInt();
      if (n < 0 || n > FlightWire.MAX_REQUEST_BYTES) {
        refuse(
            ch,
            BAD_REQUEST,
            "request of " + n + " bytes (at most " + FlightWire.MAX_REQUEST_BYTES + ")");
        return;
      }
      ByteBuffer body = ByteBuffer.allocate(n);
      watch.readFully(ch, body);
      List<String> ids;
      try {
        ids = FlightWire.parseIds(body.array(), "bulk request");
      } catch (IllegalArgumentException e) {
        refuse(ch, BAD_REQUEST, e.getMessage());
        return;
      }
      watch.reset(WRITE_STALL_MILLIS, 0);
      send(ch, watch, ids);
    } catch (IOException | RuntimeException e) {
      if (!closed) {
        LOG.debug("bulk shard connection ended: {}", e.toString());
      }
    }
  }

  private void send(SocketChannel ch, ChannelWatch watch, List<String> ids) throws IOException {
    List<ArrowBuf> shards;
    try {
      shards = store.retain(ids);
    } catch (IllegalStateException e) {
      refuse(ch, BAD_REQUEST, e.getMessage());
      return;
    } catch (RuntimeException e) {
      // Writing a deferred shard (a device tensor's copy to the host) failed: the request is
      // answered, the connection stays.
      refuse(ch, BAD_REQUEST, ShardStore.writeFailure(e));
      return;
    }
    try {
      ByteBuffer lengths = ByteBuffer.allocate(1 + 8 * ids.size());
      lengths.put(OK);
      boolean all = true;
      for (ArrowBuf shard : shards) {
        lengths.putLong(shard == null ? -1 : shard.writerIndex());
        all &= shard != null;
      }
      lengths.flip();
      watch.writeFully(ch, lengths);
      if (!all) {
        return;
      }
      for (ArrowBuf shard : shards) {
        long length = shard.writerIndex();
        for (long done = 0; done < length; ) {
          int chunk = (int) Math.min(WRITE_CHUNK, length - done);
          watch.writeFully(ch, shard.nioBuffer(done, chunk));
          done += chunk;
        }
      }
      served.incrementAndGet();
    } finally {
      shards.stream().filter(Objects::nonNull).forEach(ArrowBuf::close);
    }
  }

  private static void refuse(SocketChannel ch, byte status, String reason) throws IOException {
    byte[] text = reason.getBytes(StandardCharsets.UTF_8);
    int len = Math.min(text.length, 4096);
    ByteBuffer out = ByteBuffer.allocate(3 + len);
    out.put(status).putShort((short) len).put(text, 0, len).flip();
    while (out.hasRemaining()) {
      ch.write(out); // a few bytes into an empty send buffer: does not block
    }
  }

  private static void closeQuietly(SocketChannel ch) {
    try {
      ch.close();
    } catch (IOException e) {
      // nothing more to do
    }
  }

  /** Stops accepting and drops the connections being served. */
  @Override
  public void close() {
    closed = true;
    try {
      listener.close();
    } catch (IOException e) {
      LOG.debug("closing the bulk shard endpoint: {}", e.toString());
    }
    handlers.shutdownNow();
    try {
      acceptor.join(5_000);
      handlers.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
