package io.rtensor.auth;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.ManagedChannel;
import io.grpc.netty.NettyChannelBuilder;
import io.rtensor.runtime.HostPort;
import io.rtensor.runtime.SessionSecret;
import io.rtensor.testing.PortSquatter;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import org.apache.arrow.flight.Action;
import org.apache.arrow.flight.CallOption;
import org.apache.arrow.flight.FlightCallHeaders;
import org.apache.arrow.flight.FlightClient;
import org.apache.arrow.flight.FlightGrpcUtils;
import org.apache.arrow.flight.FlightRuntimeException;
import org.apache.arrow.flight.FlightServer;
import org.apache.arrow.flight.FlightStatusCode;
import org.apache.arrow.flight.HeaderCallOption;
import org.apache.arrow.flight.Location;
import org.apache.arrow.flight.NoOpFlightProducer;
import org.apache.arrow.flight.Result;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The session handshake between real Flight servers and clients in this JVM: who gets a token, who
 * does not, where a token is accepted, and what a client sends to a server that cannot prove
 * itself.
 */
class SessionAuthTest {
  private static final SessionSecret SECRET = SessionSecret.generate();
  private static final byte[] KEY = SECRET.key(SessionSecret.DATA_PLANE);
  private final BufferAllocator root = new RootAllocator();
  private final List<AutoCloseable> open = new ArrayList<>();

  @AfterEach
  void close() throws Exception {
    for (int i = open.size() - 1; i >= 0; i--) {
      open.get(i).close();
    }
    root.close();
  }

  /** A Flight server whose one action, {@code hello}, answers "hi". */
  private String server(SessionAuthServer auth) throws Exception {
    FlightServer server =
        FlightServer.builder(
                root,
                Location.forGrpcInsecure("127.0.0.1", 0),
                new NoOpFlightProducer() {
                  @Override
                  public void doAction(
                      CallContext context, Action action, StreamListener<Result> listener) {
                    listener.onNext(new Result("hi".getBytes(StandardCharsets.UTF_8)));
                    listener.onCompleted();
                  }
                })
            .authHandler(auth)
            .build();
    auth.start(server, "127.0.0.1");
    open.add(server);
    return HostPort.join("127.0.0.1", server.getPort());
  }

  private record Client(FlightClient flight, SessionAuthClient auth) {}

  /** A client that dials {@code address} and authenticates the server as {@code identity}. */
  private Client client(String address, byte[] key, String identity) {
    HostPort hp = HostPort.parse(address);
    ManagedChannel channel =
        NettyChannelBuilder.forAddress(hp.host(), hp.port()).usePlaintext().build();
    FlightClient flight = FlightGrpcUtils.createFlightClient(root, channel);
    open.add(flight);
    return new Client(flight, new SessionAuthClient(channel, key, identity));
  }

  private static String hello(FlightClient client, CallOption token) {
    Iterator<Result> results = client.doAction(new Action("hello"), token);
    return new String(results.next().getBody(), StandardCharsets.UTF_8);
  }

  private static CallOption tokenOption(byte[] token) {
    FlightCallHeaders headers = new FlightCallHeaders();
    headers.insert(SessionAuth.TOKEN_HEADER, token);
    return new HeaderCallOption(headers);
  }

  private static FlightStatusCode refusal(Runnable call) {
    return assertThrows(FlightRuntimeException.class, call::run).status().code();
  }

  @Test
  void aClientWithTheKeyGetsATokenAndCallsWithIt() throws Exception {
    String address = server(new SessionAuthServer(KEY));
    Client c = client(address, KEY, address);
    assertEquals("hi", hello(c.flight(), c.auth().callOption()));
    byte[] token = c.auth().token();
    assertArrayEquals(token, c.auth().token(), "a token is reused until it is due for renewal");
    assertEquals(SessionAuth.TOKEN_BYTES, token.length);
    assertFalse(
        new String(token, StandardCharsets.ISO_8859_1).contains(SECRET.value()),
        "the token is not the secret");
  }

  @Test
  void aCallWithoutATokenOrWithAForgedOneIsRefused() throws Exception {
    String address = server(new SessionAuthServer(KEY));
    Client c = client(address, KEY, address);
    FlightRuntimeException none =
        assertThrows(
            FlightRuntimeException.class, () -> c.flight().doAction(new Action("hello")).next());
    assertEquals(FlightStatusCode.UNAUTHENTICATED, none.status().code());
    assertTrue(none.getMessage().contains("no session token"), none.getMessage());
    byte[] forged = c.auth().token().clone();
    forged[forged.length - 1] ^= 1;
    assertEquals(
        FlightStatusCode.UNAUTHENTICATED, refusal(() -> hello(c.flight(), tokenOption(forged))));
    byte[] secretAsToken = SECRET.value().getBytes(StandardCharsets.UTF_8);
    assertEquals(
        FlightStatusCode.UNAUTHENTICATED,
        refusal(() -> hello(c.flight(), tokenOption(secretAsToken))));
  }

  @Test
  void aTokenIsAcceptedOnlyByTheServerInstanceThatIssuedIt() throws Exception {
    String first = server(new SessionAuthServer(KEY));
    String second = server(new SessionAuthServer(KEY));
    Client toFirst = client(first, KEY, first);
    Client toSecond = client(second, KEY, second);
    byte[] token = toFirst.auth().token();
    assertEquals("hi", hello(toFirst.flight(), tokenOption(token)));
    assertEquals(
        FlightStatusCode.UNAUTHENTICATED,
        refusal(() -> hello(toSecond.flight(), tokenOption(token))),
        "another server of the same session refuses it");
    assertEquals("hi", hello(toSecond.flight(), toSecond.auth().callOption()));
  }

  @Test
  void anExpiredTokenIsRefusedAndTheClientRenewsItsOwnInTime() throws Exception {
    String address = server(new SessionAuthServer(KEY, 600));
    Client c = client(address, KEY, address);
    byte[] token = c.auth().token();
    Thread.sleep(700);
    FlightRuntimeException e =
        assertThrows(FlightRuntimeException.class, () -> hello(c.flight(), tokenOption(token)));
    assertTrue(e.getMessage().contains("expired"), e.getMessage());
    byte[] renewed = c.auth().token();
    assertNotEquals(
        new String(token, StandardCharsets.ISO_8859_1),
        new String(renewed, StandardCharsets.ISO_8859_1));
    assertEquals("hi", hello(c.flight(), tokenOption(renewed)));
  }

  @Test
  void aServerWithoutTheKeyIsRefusedBeforeTheClientSendsItsProof() throws Exception {
    String address =
        server(new SessionAuthServer(SessionSecret.generate().key(SessionSecret.DATA_PLANE)));
    Client c = client(address, KEY, address);
    FlightRuntimeException e = assertThrows(FlightRuntimeException.class, c.auth()::token);
    assertEquals(FlightStatusCode.UNAUTHENTICATED, e.status().code());
    assertTrue(e.getMessage().contains("did not prove"), e.getMessage());
  }

  @Test
  void aClientWithTheWrongKeyGetsNoToken() throws Exception {
    String address = server(new SessionAuthServer(KEY));
    // The control key of the same session does not open a data-plane endpoint.
    Client c = client(address, SECRET.key(SessionSecret.CONTROL), address);
    assertEquals(FlightStatusCode.UNAUTHENTICATED, refusal(c.auth()::token));
  }

  @Test
  @SuppressWarnings("deprecation")
  void theServerIssuesNoTokenForAProofMadeWithAnotherKey() {
    SessionAuthServer server = new SessionAuthServer(KEY);
    server.bind("127.0.0.1:1");
    byte[] other = SECRET.key(SessionSecret.CONTROL);
    byte[] nc = SessionAuth.random(SessionAuth.NONCE_BYTES);
    List<byte[]> sent = new ArrayList<>();
    java.util.concurrent.LinkedBlockingQueue<byte[]> inbox =
        new java.util.concurrent.LinkedBlockingQueue<>();
    inbox.add(SessionAuth.message(SessionAuth.HELLO, nc));
    Iterator<byte[]> incoming =
        new Iterator<>() {
          @Override
          public boolean hasNext() {
            if (inbox.isEmpty() && sent.size() == 1) {
              // The challenge arrived: answer it with a proof made with the control key.
              byte[] ns =
                  java.util.Arrays.copyOfRange(
                      sent.get(0), SessionAuth.HEAD, SessionAuth.HEAD + SessionAuth.NONCE_BYTES);
              inbox.add(
                  SessionAuth.message(
                      SessionAuth.PROOF, SessionAuth.clientProof(other, nc, ns, "127.0.0.1:1")));
            }
            return !inbox.isEmpty();
          }

          @Override
          public byte[] next() {
            return inbox.remove();
          }
        };
    boolean admitted =
        server.authenticate(
            new org.apache.arrow.flight.auth.ServerAuthHandler.ServerAuthSender() {
              @Override
              public void send(byte[] payload) {
                sent.add(payload);
              }

              @Override
              public void onError(Throwable cause) {}
            },
            incoming);
    assertFalse(admitted);
    assertEquals(1, sent.size(), "the challenge only, no token");
    assertEquals(SessionAuth.CHALLENGE, sent.get(0)[SessionAuth.MAGIC.length]);
  }

  @Test
  void aServerProvingAnotherAddressIsRefused() throws Exception {
    String address = server(new SessionAuthServer(KEY));
    HostPort hp = HostPort.parse(address);
    // The client means another server: a valid proof for this address does not satisfy it.
    Client c = client(address, KEY, HostPort.join(hp.host(), hp.port() == 1 ? 2 : hp.port() - 1));
    FlightRuntimeException e = assertThrows(FlightRuntimeException.class, c.auth()::token);
    assertTrue(e.getMessage().contains("answered as '" + address + "'"), e.getMessage());
  }

  @Test
  void aRelayToALiveServerLearnsOnlyTheNonce() throws Exception {
    String live = server(new SessionAuthServer(KEY));
    try (PortSquatter relay = PortSquatter.bind(0, HostPort.parse(live))) {
      String relayAddress = HostPort.join("127.0.0.1", relay.port());
      Client c = client(relayAddress, KEY, relayAddress);
      FlightRuntimeException e = assertThrows(FlightRuntimeException.class, c.auth()::token);
      assertTrue(e.getMessage().contains("answered as '" + live + "'"), e.getMessage());
      relay.awaitQuiet();
      List<byte[]> payloads = relay.handshakePayloads();
      assertEquals(1, payloads.size(), "only the hello reached the relay");
      assertEquals(SessionAuth.HELLO, payloads.get(0)[SessionAuth.MAGIC.length]);
      assertEquals(List.of(), relay.tokens(), "no token reached the relay");
    }
  }

  @Test
  void aSealedSecretOpensOnlyWithTheReceiversKey() {
    SecretSeal.Receiver receiver = new SecretSeal.Receiver();
    byte[] secret = SECRET.value().getBytes(StandardCharsets.UTF_8);
    byte[] sealed = SecretSeal.seal(secret, receiver.publicKey());
    assertFalse(
        new String(sealed, StandardCharsets.ISO_8859_1).contains(SECRET.value()),
        "the sealed bytes do not contain the secret");
    assertArrayEquals(secret, receiver.open(sealed));
    assertThrows(IllegalArgumentException.class, () -> new SecretSeal.Receiver().open(sealed));
    byte[] altered = sealed.clone();
    altered[altered.length - 1] ^= 1;
    assertThrows(IllegalArgumentException.class, () -> receiver.open(altered));
  }
}
