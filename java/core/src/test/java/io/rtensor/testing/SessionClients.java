package io.rtensor.testing;

import io.grpc.ManagedChannel;
import io.grpc.netty.NettyChannelBuilder;
import io.rtensor.auth.SessionAuthClient;
import io.rtensor.runtime.HostPort;
import io.rtensor.runtime.SessionSecret;
import java.util.concurrent.TimeUnit;
import org.apache.arrow.flight.CallOption;
import org.apache.arrow.flight.FlightClient;
import org.apache.arrow.flight.FlightGrpcUtils;
import org.apache.arrow.memory.BufferAllocator;

/**
 * A plain Flight client of one server that authenticates with the session handshake, for tests that
 * send what rtensor's own clients never would.
 */
public final class SessionClients implements AutoCloseable {
  private final ManagedChannel channel;
  private final FlightClient client;
  private final SessionAuthClient session;

  private SessionClients(BufferAllocator allocator, String address, byte[] key) {
    HostPort hp = HostPort.parse(address);
    this.channel =
        NettyChannelBuilder.forAddress(hp.host(), hp.port())
            .usePlaintext()
            .maxInboundMessageSize(Integer.MAX_VALUE)
            .build();
    this.client = FlightGrpcUtils.createFlightClient(allocator, channel);
    this.session = new SessionAuthClient(channel, key, hp.toString());
  }

  /** A client of the Flight shard server at {@code address} (its data-plane key). */
  public static SessionClients dataPlane(BufferAllocator allocator, String address, String secret) {
    return new SessionClients(
        allocator, address, SessionSecret.of(secret).key(SessionSecret.DATA_PLANE));
  }

  /** A client of a local worker's control endpoint (its control key). */
  public static SessionClients control(
      BufferAllocator allocator, String address, SessionSecret secret) {
    return new SessionClients(allocator, address, secret.key(SessionSecret.CONTROL));
  }

  /** The Flight client (calls need {@link #auth()}). */
  public FlightClient client() {
    return client;
  }

  /** The channel, for raw gRPC calls (headers from {@link #session()}). */
  public ManagedChannel channel() {
    return channel;
  }

  /** The session token as a call option (a handshake first when there is none). */
  public CallOption auth() {
    return session.callOption();
  }

  /** The handshake client. */
  public SessionAuthClient session() {
    return session;
  }

  @Override
  public void close() throws InterruptedException {
    client.close();
    channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
  }
}
