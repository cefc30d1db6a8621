package io.rtensor.scheduler.local.internal;

import io.rtensor.auth.SessionAuthServer;
import io.rtensor.host.ControlRequest;
import io.rtensor.host.EngineHost;
import io.rtensor.host.WorkerControl;
import io.rtensor.runtime.SessionSecret;
import java.io.IOException;
import java.util.concurrent.TimeUnit;
import org.apache.arrow.flight.Action;
import org.apache.arrow.flight.CallStatus;
import org.apache.arrow.flight.FlightServer;
import org.apache.arrow.flight.Location;
import org.apache.arrow.flight.NoOpFlightProducer;
import org.apache.arrow.flight.Result;
import org.apache.arrow.memory.BufferAllocator;

/**
 * A worker's control endpoint: an Arrow Flight server that carries {@link ControlRequest}s to one
 * {@link WorkerControl}. Every call must carry a token from the session handshake ({@link
 * io.rtensor.auth.SessionAuth}, with the session's control key: a data-plane key does not open it);
 * a body that is not a request of the action's type is refused with INVALID_ARGUMENT before
 * anything runs.
 */
public final class ControlServer extends NoOpFlightProducer implements AutoCloseable {
  /**
   * The largest control request a worker takes (64 MiB). Requests carry engine names, methods and
   * arguments; tensors travel as handles, so a larger one is a mistake or an attack. gRPC refuses
   * it with RESOURCE_EXHAUSTED from its frame header, before buffering its body.
   */
  public static final int MAX_REQUEST_BYTES = 64 << 20;

  private final WorkerControl control;
  private final FlightServer server;

  /** Starts serving on {@code bindHost:port} (0: any free port). */
  public ControlServer(
      BufferAllocator allocator,
      WorkerControl control,
      SessionSecret secret,
      String bindHost,
      int port)
      throws IOException {
    this.control = control;
    SessionAuthServer auth = new SessionAuthServer(secret.key(SessionSecret.CONTROL));
    this.server =
        auth.start(
            FlightServer.builder(allocator, Location.forGrpcInsecure(bindHost, port), this)
                .authHandler(auth)
                .maxInboundMessageSize(MAX_REQUEST_BYTES)
                .build(),
            bindHost);
  }

  /** The port the server listens on. */
  public int port() {
    return server.getPort();
  }

  @Override
  public void doAction(CallContext context, Action action, StreamListener<Result> listener) {
    ControlRequest<?> request;
    try {
      Object body = ControlProtocol.decode(action.getBody(), EngineHost.class.getClassLoader());
      if (!(body instanceof ControlRequest<?> r) || !r.name().equals(action.getType())) {
        throw new IllegalArgumentException(
            "the body of action '"
                + action.getType()
                + "' is not that control request: "
                + (body == null ? "empty" : body.getClass().getName()));
      }
      request = r;
    } catch (IOException | ClassNotFoundException | RuntimeException e) {
      listener.onError(
          CallStatus.INVALID_ARGUMENT
              .withDescription("malformed control request: " + e.getMessage())
              .toRuntimeException());
      return;
    }
    Object reply;
    try {
      reply = request.applyTo(control);
    } catch (RuntimeException e) {
      listener.onError(
          CallStatus.INVALID_ARGUMENT
              .withDescription(request.name() + " refused: " + e.getMessage())
              .toRuntimeException());
      return;
    }
    try {
      listener.onNext(new Result(ControlProtocol.encode(reply)));
      listener.onCompleted();
    } catch (IOException e) {
      listener.onError(
          CallStatus.INTERNAL
              .withDescription("the result of " + request.name() + " cannot be serialized: " + e)
              .toRuntimeException());
    }
  }

  @Override
  public void close() {
    server.shutdown();
    try {
      server.awaitTermination(5, TimeUnit.SECONDS);
      server.close();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
