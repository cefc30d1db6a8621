package io.rtensor.auth;

import static io.rtensor.auth.SessionAuth.CHALLENGE;
import static io.rtensor.auth.SessionAuth.HELLO;
import static io.rtensor.auth.SessionAuth.MAC_BYTES;
import static io.rtensor.auth.SessionAuth.NONCE_BYTES;
import static io.rtensor.auth.SessionAuth.PROOF;
import static io.rtensor.auth.SessionAuth.TOKEN;
import static io.rtensor.auth.SessionAuth.TOKEN_BYTES;
import static io.rtensor.auth.SessionAuth.TOKEN_ID_BYTES;
import static io.rtensor.auth.SessionAuth.TOKEN_MAGIC;

import io.rtensor.runtime.HostPort;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Iterator;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.apache.arrow.flight.CallStatus;
import org.apache.arrow.flight.FlightServer;
import org.apache.arrow.flight.auth.ServerAuthHandler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The server's side of {@link SessionAuth}, as Flight's handshake handler: {@code
 * FlightServer.builder(...).authHandler(auth)}, then {@link #bind} with the address the server
 * advertises once it listens. Flight runs {@link #authenticate} for each {@code Handshake} call and
 * {@link #isValid} for every other call (the token in {@code auth-token-bin}), refusing it with
 * UNAUTHENTICATED unless the token is one this server issued and has not expired.
 *
 * <p>(Flight's legacy handshake API; its Java server waits for a client message by spinning, so
 * this handler only reads a message once one has arrived, and gives up after {@link
 * #MESSAGE_WAIT_MILLIS}.)
 */
@SuppressWarnings("deprecation") // Flight's handshake handler is the API pyarrow's clients speak
public final class SessionAuthServer implements ServerAuthHandler {
  /** How long the server waits for each client message of a handshake. */
  static final long MESSAGE_WAIT_MILLIS = 10_000;

  private static final Logger log = LoggerFactory.getLogger(SessionAuthServer.class);

  private final byte[] key;
  private final long tokenLifetimeNanos;
  private final byte[] instance = SessionAuth.random(32);
  private volatile String identity;
  private volatile byte[] tokenKey;

  /** A handler for endpoints guarded by {@code key} (a session key for one purpose). */
  public SessionAuthServer(byte[] key) {
    this(key, SessionAuth.TOKEN_LIFETIME_MILLIS);
  }

  SessionAuthServer(byte[] key, long tokenLifetimeMillis) {
    Objects.requireNonNull(key, "key");
    if (key.length < 16) {
      throw new IllegalArgumentException("a session key has at least 16 bytes");
    }
    this.key = key.clone();
    this.tokenLifetimeNanos = TimeUnit.MILLISECONDS.toNanos(tokenLifetimeMillis);
  }

  /**
   * Sets the identity this server proves ({@code host:port}, as clients name it); until then every
   * handshake is refused.
   */
  public void bind(String identity) {
    this.tokenKey = SessionAuth.tokenKey(key, instance, Objects.requireNonNull(identity));
    this.identity = identity;
  }

  /**
   * Starts {@code server} (built with this handler) and binds this handler to {@code host} and the
   * port it listens on.
   */
  public FlightServer start(FlightServer server, String host) throws IOException {
    server.start();
    bind(HostPort.join(host, server.getPort()));
    return server;
  }

  @Override
  public boolean authenticate(ServerAuthSender outgoing, Iterator<byte[]> incoming) {
    String id = identity;
    byte[] tk = tokenKey;
    if (id == null || tk == null) {
      log.debug("handshake refused: the server is not bound to an address yet");
      return false;
    }
    byte[] nc = SessionAuth.body(await(incoming), HELLO);
    if (nc == null || nc.length != NONCE_BYTES) {
      log.debug("handshake refused: no valid hello");
      return false;
    }
    byte[] ns = SessionAuth.random(NONCE_BYTES);
    outgoing.send(
        SessionAuth.message(
            CHALLENGE, ns, SessionAuth.serverProof(key, nc, ns, id), SessionAuth.utf8(id)));
    byte[] pc = SessionAuth.body(await(incoming), PROOF);
    if (pc == null
        || pc.length != MAC_BYTES
        || !SessionAuth.same(pc, SessionAuth.clientProof(key, nc, ns, id))) {
      log.debug("handshake refused: the client did not prove it holds the session key");
      return false;
    }
    outgoing.send(
        SessionAuth.message(
            TOKEN,
            SessionAuth.longBytes(TimeUnit.NANOSECONDS.toMillis(tokenLifetimeNanos)),
            issue(tk)));
    return true;
  }

  private byte[] issue(byte[] tk) {
    byte[] expiry = SessionAuth.longBytes(System.nanoTime() + tokenLifetimeNanos);
    byte[] id = SessionAuth.random(TOKEN_ID_BYTES);
    return ByteBuffer.allocate(TOKEN_BYTES)
        .put(TOKEN_MAGIC)
        .put(expiry)
        .put(id)
        .put(SessionAuth.hmac(tk, TOKEN_MAGIC, expiry, id))
        .array();
  }

  @Override
  public Optional<String> isValid(byte[] token) {
    byte[] tk = tokenKey;
    if (token == null) {
      throw CallStatus.UNAUTHENTICATED
          .withDescription(
              "no session token: authenticate with the rtensor handshake first (see SessionAuth)")
          .toRuntimeException();
    }
    if (tk == null
        || token.length != TOKEN_BYTES
        || !Arrays.equals(token, 0, TOKEN_MAGIC.length, TOKEN_MAGIC, 0, TOKEN_MAGIC.length)) {
      throw refused();
    }
    int macAt = TOKEN_BYTES - MAC_BYTES;
    byte[] expected =
        SessionAuth.hmac(
            tk,
            TOKEN_MAGIC,
            Arrays.copyOfRange(token, TOKEN_MAGIC.length, TOKEN_MAGIC.length + 8),
            Arrays.copyOfRange(token, TOKEN_MAGIC.length + 8, macAt));
    if (!SessionAuth.same(expected, Arrays.copyOfRange(token, macAt, TOKEN_BYTES))) {
      throw refused();
    }
    long expiry = ByteBuffer.wrap(token, TOKEN_MAGIC.length, 8).getLong();
    if (System.nanoTime() - expiry >= 0) {
      throw CallStatus.UNAUTHENTICATED
          .withDescription("the session token expired: run the handshake again")
          .toRuntimeException();
    }
    return Optional.of("rtensor-session");
  }

  private static RuntimeException refused() {
    return CallStatus.UNAUTHENTICATED
        .withDescription("not a session token this server issued")
        .toRuntimeException();
  }

  /**
   * The next client message, or null if none arrives within {@link #MESSAGE_WAIT_MILLIS} or the
   * call ends (Flight interrupts this thread when the client goes away). Polls with a growing pause
   * (10 µs to 1 ms) instead of Flight's spinning {@code next()}.
   */
  private static byte[] await(Iterator<byte[]> incoming) {
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(MESSAGE_WAIT_MILLIS);
    long pause = 10_000;
    while (!incoming.hasNext()) {
      if (Thread.interrupted() || System.nanoTime() - deadline >= 0) {
        return null;
      }
      LockSupport.parkNanos(pause);
      pause = Math.min(pause * 2, 1_000_000);
    }
    return incoming.next();
  }
}
