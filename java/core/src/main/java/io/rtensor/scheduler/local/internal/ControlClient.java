package io.rtensor.scheduler.local.internal;

import io.grpc.ManagedChannel;
import io.grpc.netty.NettyChannelBuilder;
import io.rtensor.auth.SessionAuthClient;
import io.rtensor.host.ControlRequest;
import io.rtensor.runtime.HostPort;
import io.rtensor.runtime.SessionSecret;
import io.rtensor.scheduler.core.ControlFailure;
import io.rtensor.scheduler.core.ControlFailure.Kind;
import java.io.IOException;
import java.io.NotSerializableException;
import java.net.ConnectException;
import java.time.Duration;
import java.util.Iterator;
import java.util.concurrent.TimeUnit;
import org.apache.arrow.flight.Action;
import org.apache.arrow.flight.CallOption;
import org.apache.arrow.flight.CallOptions;
import org.apache.arrow.flight.FlightClient;
import org.apache.arrow.flight.FlightGrpcUtils;
import org.apache.arrow.flight.FlightRuntimeException;
import org.apache.arrow.flight.FlightStatusCode;
import org.apache.arrow.flight.Result;
import org.apache.arrow.memory.BufferAllocator;

/**
 * The scheduler's side of one worker's control endpoint. Before its first request on a connection
 * it runs the session handshake ({@link SessionAuthClient}, the session's control key), so a
 * process that took over a dead worker's port is sent nothing but a nonce.
 */
public final class ControlClient implements AutoCloseable {
  private final FlightClient client;
  private final SessionAuthClient session;

  public ControlClient(BufferAllocator allocator, String host, int port, SessionSecret secret) {
    ManagedChannel channel =
        NettyChannelBuilder.forAddress(host, port)
            .usePlaintext()
            .maxInboundMessageSize(Integer.MAX_VALUE)
            .build();
    this.client = FlightGrpcUtils.createFlightClient(allocator, channel);
    this.session =
        new SessionAuthClient(
            channel, secret.key(SessionSecret.CONTROL), HostPort.join(host, port));
  }

  /**
   * Sends one request and returns its decoded reply.
   *
   * @throws ControlFailure saying what the failure proves (see {@link ControlFailure.Kind})
   */
  public <T> T send(ControlRequest<T> request, Duration timeout) throws ControlFailure {
    byte[] bytes;
    try {
      bytes = ControlProtocol.encode(request);
    } catch (NotSerializableException e) {
      throw new ControlFailure(Kind.UNSENDABLE, "not serializable: " + e.getMessage(), e);
    }
    // The action's own framing (its type, protobuf tags) takes a few bytes beside the body.
    if (bytes.length > ControlServer.MAX_REQUEST_BYTES - 4096) {
      throw new ControlFailure(
          Kind.UNSENDABLE,
          request.name()
              + " request of "
              + bytes.length
              + " bytes is over the workers' limit of "
              + (ControlServer.MAX_REQUEST_BYTES >> 20)
              + " MiB: pass large data as tensors (they travel as handles)",
          null);
    }
    byte[] reply;
    try {
      Iterator<Result> results = doAction(new Action(request.name(), bytes), timeout);
      if (!results.hasNext()) {
        throw new ControlFailure(Kind.BROKEN, request.name() + " returned no result", null);
      }
      reply = results.next().getBody();
      while (results.hasNext()) {
        results.next();
      }
    } catch (FlightRuntimeException e) {
      throw new ControlFailure(kindOf(e), e.status().code() + ": " + e.getMessage(), e);
    }
    try {
      @SuppressWarnings("unchecked")
      T value = (T) ControlProtocol.decode(reply, ControlClient.class.getClassLoader());
      return value;
    } catch (IOException | ClassNotFoundException | ClassCastException e) {
      throw new ControlFailure(Kind.BROKEN, "unreadable reply to " + request.name() + ": " + e, e);
    }
  }

  /**
   * Runs the action with a session token (a handshake first if this client has none). A token the
   * worker refuses (expired, or issued by a worker that restarted) is refused before the action
   * runs: then this handshakes once more and resends.
   */
  private Iterator<Result> doAction(Action action, Duration timeout) throws ControlFailure {
    for (int attempt = 1; ; attempt++) {
      CallOption token;
      try {
        token = session.callOption();
      } catch (FlightRuntimeException e) {
        // Nothing of the request left this process; a server that failed its proof is refused.
        throw new ControlFailure(
            e.status().code() == FlightStatusCode.UNAUTHENTICATED
                ? Kind.REFUSED
                : Kind.NOT_DELIVERED,
            "session handshake: " + e.getMessage(),
            e);
      }
      try {
        Iterator<Result> results =
            client.doAction(
                action, CallOptions.timeout(timeout.toMillis(), TimeUnit.MILLISECONDS), token);
        results.hasNext(); // waits for the first answer: a refused token shows here
        return results;
      } catch (FlightRuntimeException e) {
        if (e.status().code() != FlightStatusCode.UNAUTHENTICATED || attempt > 1) {
          throw e;
        }
        session.invalidate();
      }
    }
  }

  private static Kind kindOf(FlightRuntimeException e) {
    return switch (e.status().code()) {
      case TIMED_OUT -> Kind.TIMED_OUT;
      case UNAUTHENTICATED, UNAUTHORIZED, INVALID_ARGUMENT, UNIMPLEMENTED -> Kind.REFUSED;
      case UNAVAILABLE -> refusedConnection(e) ? Kind.NOT_DELIVERED : Kind.BROKEN;
      default -> Kind.BROKEN;
    };
  }

  /** Whether the connection was refused, so the request cannot have been sent. */
  private static boolean refusedConnection(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof ConnectException) {
        return true;
      }
    }
    return false;
  }

  @Override
  public void close() {
    try {
      client.close();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
