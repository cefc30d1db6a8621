package io.rtensor.scheduler.local.internal;

import io.rtensor.host.ControlRequest;
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
import org.apache.arrow.flight.CallOptions;
import org.apache.arrow.flight.FlightCallHeaders;
import org.apache.arrow.flight.FlightClient;
import org.apache.arrow.flight.FlightRuntimeException;
import org.apache.arrow.flight.HeaderCallOption;
import org.apache.arrow.flight.Location;
import org.apache.arrow.flight.Result;
import org.apache.arrow.memory.BufferAllocator;

/** The scheduler's side of one worker's control endpoint. */
public final class ControlClient implements AutoCloseable {
  private final FlightClient client;
  private final HeaderCallOption secretHeader;

  public ControlClient(BufferAllocator allocator, String host, int port, SessionSecret secret) {
    this.client = FlightClient.builder(allocator, Location.forGrpcInsecure(host, port)).build();
    FlightCallHeaders headers = new FlightCallHeaders();
    headers.insert(ControlProtocol.SECRET_HEADER, secret.value());
    this.secretHeader = new HeaderCallOption(headers);
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
    byte[] reply;
    try {
      Iterator<Result> results =
          client.doAction(
              new Action(request.name(), bytes),
              CallOptions.timeout(timeout.toMillis(), TimeUnit.MILLISECONDS),
              secretHeader);
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
