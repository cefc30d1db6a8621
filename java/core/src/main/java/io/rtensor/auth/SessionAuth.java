package io.rtensor.auth;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Arrays;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * The mutual challenge-response that admits a client to an rtensor Flight endpoint (a worker's
 * shard server, a local worker's control endpoint) without the session secret crossing the wire.
 *
 * <p>Both sides hold {@code K}, a key derived from the session secret for the endpoint's purpose
 * ({@link io.rtensor.runtime.SessionSecret#key}), and the client knows the {@code identity} of the
 * server it means: the address the server advertises, {@code host:port}. The exchange runs in
 * Flight's {@code Handshake} call, each message one payload starting with {@code "RTA1"} and a type
 * byte:
 *
 * <ol>
 *   <li>client: {@code HELLO = "RTA1" 0x01 Nc} — {@code Nc} 32 fresh random bytes;
 *   <li>server: {@code CHALLENGE = "RTA1" 0x02 Ns Ps identity} — {@code Ns} 32 fresh random bytes,
 *       {@code Ps = HMAC-SHA256(K, "rtensor-auth-v1 server\0" Nc Ns identity)}, the identity in
 *       UTF-8 to the end of the message;
 *   <li>the client checks that the identity is the one it means and that {@code Ps} matches
 *       (constant time); if not it cancels the call and sends nothing more;
 *   <li>client: {@code PROOF = "RTA1" 0x03 Pc} — {@code Pc = HMAC-SHA256(K, "rtensor-auth-v1
 *       client\0" Nc Ns identity)};
 *   <li>server: {@code TOKEN = "RTA1" 0x04 lifetimeMillis(8, big-endian) token} — an opaque token
 *       the client sends on each later call in the {@code auth-token-bin} header, until the
 *       lifetime is nearly over or the connection drops, then it runs the exchange again.
 * </ol>
 *
 * <p>A token is {@code "RTT1" expiry(8) id(16) HMAC-SHA256(Kt, "RTT1" expiry id)}, where {@code Kt
 * = HMAC-SHA256(K, "rtensor-auth-v1 token\0" instance identity)} and {@code instance} is 32 random
 * bytes the server drew when it started, and {@code expiry} is on that process's monotonic clock:
 * only the server instance that issued a token accepts it, for {@link #TOKEN_LIFETIME_MILLIS}.
 *
 * <p>So a process that squats a dead worker's port sees a nonce, and perhaps a token of the dead
 * worker (no live server accepts it); it cannot answer the challenge, and the proofs of a live
 * server it relays the hello to name that server's identity, which the client refuses.
 */
public final class SessionAuth {
  /** The header that carries the token on every call after the handshake (Flight's own). */
  public static final String TOKEN_HEADER = "auth-token-bin";

  /** How long a token is accepted. */
  public static final long TOKEN_LIFETIME_MILLIS = 5 * 60_000;

  static final byte[] MAGIC = {'R', 'T', 'A', '1'};
  static final byte HELLO = 1;
  static final byte CHALLENGE = 2;
  static final byte PROOF = 3;
  static final byte TOKEN = 4;
  static final int NONCE_BYTES = 32;
  static final int MAC_BYTES = 32;
  static final int HEAD = MAGIC.length + 1;

  static final byte[] TOKEN_MAGIC = {'R', 'T', 'T', '1'};
  static final int TOKEN_ID_BYTES = 16;
  static final int TOKEN_BYTES = TOKEN_MAGIC.length + 8 + TOKEN_ID_BYTES + MAC_BYTES;

  private static final byte[] SERVER_LABEL = label("rtensor-auth-v1 server");
  private static final byte[] CLIENT_LABEL = label("rtensor-auth-v1 client");
  private static final byte[] TOKEN_LABEL = label("rtensor-auth-v1 token");
  private static final SecureRandom RANDOM = new SecureRandom();

  private SessionAuth() {}

  private static byte[] label(String text) {
    byte[] t = text.getBytes(StandardCharsets.US_ASCII);
    return Arrays.copyOf(t, t.length + 1);
  }

  static byte[] random(int n) {
    byte[] b = new byte[n];
    RANDOM.nextBytes(b);
    return b;
  }

  /** HMAC-SHA256 of the concatenated parts. */
  static byte[] hmac(byte[] key, byte[]... parts) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(key, "HmacSHA256"));
      for (byte[] p : parts) {
        mac.update(p);
      }
      return mac.doFinal();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("HmacSHA256 is not available", e);
    }
  }

  static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  static byte[] serverProof(byte[] key, byte[] nc, byte[] ns, String identity) {
    return hmac(key, SERVER_LABEL, nc, ns, utf8(identity));
  }

  static byte[] clientProof(byte[] key, byte[] nc, byte[] ns, String identity) {
    return hmac(key, CLIENT_LABEL, nc, ns, utf8(identity));
  }

  static byte[] tokenKey(byte[] key, byte[] instance, String identity) {
    return hmac(key, TOKEN_LABEL, instance, utf8(identity));
  }

  /** {@code "RTA1" type body...}. */
  static byte[] message(byte type, byte[]... body) {
    int n = HEAD;
    for (byte[] b : body) {
      n += b.length;
    }
    ByteBuffer out = ByteBuffer.allocate(n);
    out.put(MAGIC).put(type);
    for (byte[] b : body) {
      out.put(b);
    }
    return out.array();
  }

  /** The body of a message of {@code type}, or null if it is not one. */
  static byte[] body(byte[] message, byte type) {
    if (message == null
        || message.length < HEAD
        || !Arrays.equals(message, 0, MAGIC.length, MAGIC, 0, MAGIC.length)
        || message[MAGIC.length] != type) {
      return null;
    }
    return Arrays.copyOfRange(message, HEAD, message.length);
  }

  static byte[] longBytes(long v) {
    return ByteBuffer.allocate(8).putLong(v).array();
  }

  /** Constant-time equality (false for null). */
  static boolean same(byte[] a, byte[] b) {
    return a != null && b != null && MessageDigest.isEqual(a, b);
  }
}
