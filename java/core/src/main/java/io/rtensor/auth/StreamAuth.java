package io.rtensor.auth;

import java.util.Arrays;

/**
 * {@link SessionAuth}'s mutual challenge-response over a plain message stream (the same-node Unix
 * socket of a shard server), for a connection that lives as long as one exchange of requests, so
 * there is no token: the handshake admits the connection itself.
 *
 * <p>Messages, each {@code "RTA1" type body}: client {@code HELLO Nc}; server {@code CHALLENGE Ns
 * Ps}; client {@code PROOF Pc}; server {@code ADMITTED}. {@code Ps} and {@code Pc} are HMAC-SHA256
 * over labels of their own ({@code "rtensor-stream-auth-v1 server|client\0"}), the nonces and the
 * identity the client means (so a proof of a Flight handshake is no proof here, and the reverse).
 * Each side checks the other's proof in constant time and sends nothing more when it fails.
 */
public final class StreamAuth {
  /** Sends and receives whole messages (a framed byte stream). */
  public interface Messages {
    void send(byte[] message);

    /** The next message; throws if the peer is gone or too slow. */
    byte[] receive();
  }

  /** The peer did not prove it holds the session's key, or spoke something else. */
  public static final class RefusedException extends RuntimeException {
    public RefusedException(String message) {
      super(message);
    }
  }

  static final byte ADMITTED = 5;
  private static final byte[] SERVER_LABEL = label("rtensor-stream-auth-v1 server");
  private static final byte[] CLIENT_LABEL = label("rtensor-stream-auth-v1 client");

  private StreamAuth() {}

  private static byte[] label(String text) {
    byte[] t = text.getBytes(java.nio.charset.StandardCharsets.US_ASCII);
    return Arrays.copyOf(t, t.length + 1);
  }

  /**
   * The client's side: proves it holds {@code key} to the server that names itself {@code
   * identity}, after checking the server proves it too.
   *
   * @throws RefusedException if the server cannot prove it or refuses the client
   */
  public static void client(byte[] key, String identity, Messages io) {
    byte[] nc = SessionAuth.random(SessionAuth.NONCE_BYTES);
    io.send(SessionAuth.message(SessionAuth.HELLO, nc));
    byte[] challenge = SessionAuth.body(io.receive(), SessionAuth.CHALLENGE);
    if (challenge == null || challenge.length != SessionAuth.NONCE_BYTES + SessionAuth.MAC_BYTES) {
      throw new RefusedException("the server sent no valid challenge");
    }
    byte[] ns = Arrays.copyOfRange(challenge, 0, SessionAuth.NONCE_BYTES);
    byte[] ps = Arrays.copyOfRange(challenge, SessionAuth.NONCE_BYTES, challenge.length);
    if (!SessionAuth.same(ps, proof(key, SERVER_LABEL, nc, ns, identity))) {
      throw new RefusedException(
          "the server at " + identity + " could not prove it holds the session secret");
    }
    io.send(SessionAuth.message(SessionAuth.PROOF, proof(key, CLIENT_LABEL, nc, ns, identity)));
    if (SessionAuth.body(io.receive(), ADMITTED) == null) {
      throw new RefusedException("the server at " + identity + " refused this client's proof");
    }
  }

  /**
   * The server's side for {@code identity}: admits a client that proves it holds {@code key}.
   *
   * @throws RefusedException if it cannot (nothing more is sent)
   */
  public static void server(byte[] key, String identity, Messages io) {
    byte[] nc = SessionAuth.body(io.receive(), SessionAuth.HELLO);
    if (nc == null || nc.length != SessionAuth.NONCE_BYTES) {
      throw new RefusedException("the client sent no valid hello");
    }
    byte[] ns = SessionAuth.random(SessionAuth.NONCE_BYTES);
    io.send(
        SessionAuth.message(SessionAuth.CHALLENGE, ns, proof(key, SERVER_LABEL, nc, ns, identity)));
    byte[] pc = SessionAuth.body(io.receive(), SessionAuth.PROOF);
    if (!SessionAuth.same(pc, proof(key, CLIENT_LABEL, nc, ns, identity))) {
      throw new RefusedException("the client could not prove it holds the session secret");
    }
    io.send(SessionAuth.message(ADMITTED));
  }

  private static byte[] proof(byte[] key, byte[] label, byte[] nc, byte[] ns, String identity) {
    return SessionAuth.hmac(key, label, nc, ns, SessionAuth.utf8(identity));
  }
}
