package io.rtensor.auth;

import static io.rtensor.auth.SessionAuth.CHALLENGE;
import static io.rtensor.auth.SessionAuth.HELLO;
import static io.rtensor.auth.SessionAuth.MAC_BYTES;
import static io.rtensor.auth.SessionAuth.NONCE_BYTES;
import static io.rtensor.auth.SessionAuth.PROOF;
import static io.rtensor.auth.SessionAuth.TOKEN;

import com.google.protobuf.ByteString;
import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.ConnectivityState;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Objects;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.apache.arrow.flight.CallStatus;
import org.apache.arrow.flight.FlightCallHeaders;
import org.apache.arrow.flight.FlightRuntimeException;
import org.apache.arrow.flight.HeaderCallOption;
import org.apache.arrow.flight.grpc.StatusUtils;
import org.apache.arrow.flight.impl.Flight;
import org.apache.arrow.flight.impl.FlightServiceGrpc;

/**
 * The client's side of {@link SessionAuth} on one gRPC channel to one server: it runs the handshake
 * when it has no token (or the token is about to expire, or the channel's connection changed since
 * it got one), and attaches the token to calls. It sends its proof only to a server that first
 * proved it holds the session key for the identity this client means; otherwise the handshake fails
 * with UNAUTHENTICATED and nothing but a random nonce was sent. Thread-safe.
 *
 * <p>Errors are {@link FlightRuntimeException}s: UNAUTHENTICATED when either side's proof fails,
 * TIMED_OUT when the server does not answer within {@link #HANDSHAKE_TIMEOUT_MILLIS}, and the
 * transport's status (UNAVAILABLE for a connection that fails) otherwise.
 */
public final class SessionAuthClient {
  /** Most time one handshake may take. */
  public static final long HANDSHAKE_TIMEOUT_MILLIS = 10_000;

  static final Metadata.Key<byte[]> TOKEN_KEY =
      Metadata.Key.of(SessionAuth.TOKEN_HEADER, Metadata.BINARY_BYTE_MARSHALLER);

  private final ManagedChannel channel;
  private final byte[] key;
  private final String identity;
  private volatile Token current;

  private record Token(byte[] bytes, long refreshAtNanos) {}

  /**
   * A client of the server that proves {@code identity} ({@code host:port}, as the server
   * advertises itself) over {@code channel}, with the session key {@code key}.
   */
  public SessionAuthClient(ManagedChannel channel, byte[] key, String identity) {
    this.channel = Objects.requireNonNull(channel, "channel");
    this.key = Objects.requireNonNull(key, "key").clone();
    this.identity = Objects.requireNonNull(identity, "identity");
    watch(channel.getState(false));
  }

  /** The identity this client authenticates the server as. */
  public String identity() {
    return identity;
  }

  /**
   * A token lost with its connection is never sent again: once the channel's connection drops (its
   * state leaves READY), the next call runs the handshake first, on the new connection, so a
   * process that took over the server's port gets nothing but a nonce.
   */
  private void watch(ConnectivityState seen) {
    if (seen == ConnectivityState.SHUTDOWN) {
      return;
    }
    channel.notifyWhenStateChanged(
        seen,
        () -> {
          ConnectivityState now = channel.getState(false);
          if (seen == ConnectivityState.READY || now != ConnectivityState.READY) {
            invalidate();
          }
          watch(now);
        });
  }

  /** Forgets the token: the next call runs the handshake. */
  public void invalidate() {
    current = null;
  }

  /** Adds the token header to {@code headers}, running the handshake first if needed. */
  public void attach(Metadata headers) {
    headers.put(TOKEN_KEY, token());
  }

  /** A call option carrying the token, running the handshake first if needed. */
  public HeaderCallOption callOption() {
    FlightCallHeaders headers = new FlightCallHeaders();
    headers.insert(SessionAuth.TOKEN_HEADER, token());
    return new HeaderCallOption(headers);
  }

  /** A valid token, from the handshake if this client has none. */
  public byte[] token() {
    Token t = current;
    if (t != null && System.nanoTime() - t.refreshAtNanos() < 0) {
      return t.bytes();
    }
    synchronized (this) {
      t = current;
      if (t != null && System.nanoTime() - t.refreshAtNanos() < 0) {
        return t.bytes();
      }
      t = handshake();
      current = t;
      return t.bytes();
    }
  }

  private Token handshake() {
    ClientCall<Flight.HandshakeRequest, Flight.HandshakeResponse> call =
        channel.newCall(
            FlightServiceGrpc.getHandshakeMethod(),
            CallOptions.DEFAULT.withDeadlineAfter(HANDSHAKE_TIMEOUT_MILLIS, TimeUnit.MILLISECONDS));
    LinkedBlockingQueue<Object> inbox = new LinkedBlockingQueue<>();
    call.start(
        new ClientCall.Listener<>() {
          @Override
          public void onMessage(Flight.HandshakeResponse message) {
            inbox.add(message.getPayload().toByteArray());
          }

          @Override
          public void onClose(Status status, Metadata trailers) {
            inbox.add(status);
          }
        },
        new Metadata());
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(HANDSHAKE_TIMEOUT_MILLIS);
    boolean done = false;
    try {
      call.request(2);
      byte[] nc = SessionAuth.random(NONCE_BYTES);
      call.sendMessage(request(SessionAuth.message(HELLO, nc)));
      byte[] challenge =
          SessionAuth.body(next(inbox, deadline, "challenge", "refused the handshake"), CHALLENGE);
      if (challenge == null || challenge.length < NONCE_BYTES + MAC_BYTES) {
        throw notProven("it sent no valid challenge");
      }
      byte[] ns = Arrays.copyOfRange(challenge, 0, NONCE_BYTES);
      byte[] ps = Arrays.copyOfRange(challenge, NONCE_BYTES, NONCE_BYTES + MAC_BYTES);
      String claimed =
          utf8(Arrays.copyOfRange(challenge, NONCE_BYTES + MAC_BYTES, challenge.length));
      if (!identity.equals(claimed)) {
        throw notProven("it answered as '" + claimed + "'");
      }
      if (!SessionAuth.same(ps, SessionAuth.serverProof(key, nc, ns, identity))) {
        throw notProven("its proof does not match");
      }
      call.sendMessage(
          request(SessionAuth.message(PROOF, SessionAuth.clientProof(key, nc, ns, identity))));
      call.halfClose();
      byte[] body =
          SessionAuth.body(
              next(
                  inbox,
                  deadline,
                  "token",
                  "refused this client's proof of the session key (another session's server?)"),
              TOKEN);
      if (body == null || body.length <= 8) {
        throw failed("a malformed token message");
      }
      long lifetimeMillis = ByteBuffer.wrap(body, 0, 8).getLong();
      byte[] token = Arrays.copyOfRange(body, 8, body.length);
      if (next(inbox, deadline, null, "refused the handshake") != null) {
        throw failed("the server sent more than a token");
      }
      done = true;
      long life = TimeUnit.MILLISECONDS.toNanos(Math.max(0, lifetimeMillis));
      // Renew well before the server's clock says the token expired.
      long margin = Math.min(TimeUnit.SECONDS.toNanos(30), life / 5);
      return new Token(token, System.nanoTime() + life - margin);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw CallStatus.CANCELLED
          .withDescription("interrupted during the handshake with " + identity)
          .toRuntimeException();
    } finally {
      if (!done) {
        call.cancel("handshake abandoned", null);
      }
    }
  }

  /**
   * The next message of the handshake ({@code what}), or, with {@code what} null, the end of the
   * call (null when it ended well). A call that ends early becomes an exception: UNAUTHENTICATED
   * saying the server {@code refusal}, or the transport's status.
   */
  private byte[] next(LinkedBlockingQueue<Object> inbox, long deadline, String what, String refusal)
      throws InterruptedException {
    Object o = inbox.poll(remaining(deadline), TimeUnit.NANOSECONDS);
    if (o == null) {
      throw CallStatus.TIMED_OUT
          .withDescription(
              "no "
                  + (what == null ? "end of the handshake" : what)
                  + " from "
                  + identity
                  + " within "
                  + HANDSHAKE_TIMEOUT_MILLIS
                  + " ms")
          .toRuntimeException();
    }
    if (o instanceof byte[] message) {
      return message;
    }
    Status s = (Status) o;
    if (what == null && s.isOk()) {
      return null;
    }
    if (s.getCode() == Status.Code.UNAUTHENTICATED) {
      throw CallStatus.UNAUTHENTICATED
          .withDescription("the server at " + identity + " " + refusal)
          .toRuntimeException();
    }
    if (s.isOk()) {
      throw failed("the server ended the handshake without a " + what);
    }
    throw StatusUtils.fromGrpcRuntimeException(s.asRuntimeException());
  }

  private static long remaining(long deadline) {
    return Math.max(0, deadline - System.nanoTime());
  }

  private static Flight.HandshakeRequest request(byte[] payload) {
    return Flight.HandshakeRequest.newBuilder().setPayload(ByteString.copyFrom(payload)).build();
  }

  private FlightRuntimeException notProven(String why) {
    return CallStatus.UNAUTHENTICATED
        .withDescription(
            "the server at "
                + identity
                + " did not prove it holds the session key ("
                + why
                + "); nothing else was sent to it")
        .toRuntimeException();
  }

  private FlightRuntimeException failed(String why) {
    return CallStatus.INTERNAL
        .withDescription("handshake with " + identity + " failed: " + why)
        .toRuntimeException();
  }

  private static String utf8(byte[] bytes) {
    try {
      return StandardCharsets.UTF_8
          .newDecoder()
          .onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT)
          .decode(ByteBuffer.wrap(bytes))
          .toString();
    } catch (CharacterCodingException e) {
      return "(not UTF-8)";
    }
  }
}
