package io.rtensor.scheduler.local.internal;

import io.rtensor.host.CallResult;
import io.rtensor.host.EngineHost;
import io.rtensor.host.WorkerMemory;
import io.rtensor.runtime.Ports;
import io.rtensor.runtime.SessionSecret;
import io.rtensor.transport.WorkerDataPlane;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.arrow.flight.Action;
import org.apache.arrow.flight.CallStatus;
import org.apache.arrow.flight.FlightServer;
import org.apache.arrow.flight.Location;
import org.apache.arrow.flight.NoOpFlightProducer;
import org.apache.arrow.flight.Result;
import org.apache.arrow.flight.auth2.CallHeaderAuthenticator;
import org.apache.arrow.memory.BufferAllocator;

/**
 * A worker's control endpoint: an Arrow Flight server answering {@link ControlProtocol} actions for
 * one {@link EngineHost}. Every call must carry the session secret.
 */
public final class ControlServer extends NoOpFlightProducer implements AutoCloseable {
  private final EngineHost host;
  private final WorkerDataPlane data;
  private final BufferAllocator allocator;
  private final FlightServer server;
  private final Runnable onExit;

  /**
   * Starts serving on {@code 127.0.0.1:port} (0: any free port).
   *
   * @param onExit run after the reply to an {@code exit} action
   */
  public ControlServer(
      BufferAllocator allocator,
      WorkerDataPlane data,
      EngineHost host,
      SessionSecret secret,
      String bindHost,
      int port,
      Runnable onExit)
      throws IOException {
    this.host = host;
    this.data = data;
    this.allocator = allocator;
    this.onExit = onExit;
    CallHeaderAuthenticator authenticator =
        headers -> {
          if (!secret.matches(headers.get(ControlProtocol.SECRET_HEADER))) {
            throw CallStatus.UNAUTHENTICATED
                .withDescription("missing or wrong session secret")
                .toRuntimeException();
          }
          return () -> "scheduler";
        };
    this.server =
        FlightServer.builder(allocator, Location.forGrpcInsecure(bindHost, port), this)
            .headerAuthenticator(authenticator)
            .build()
            .start();
  }

  /** The port the server listens on. */
  public int port() {
    return server.getPort();
  }

  @Override
  public void doAction(CallContext context, Action action, StreamListener<Result> listener) {
    Object reply;
    try {
      Object body = ControlProtocol.decode(action.getBody(), EngineHost.class.getClassLoader());
      reply = handle(action.getType(), body);
    } catch (IOException | ClassNotFoundException | ClassCastException e) {
      reply = CallResult.failure(CallResult.Status.BAD_ARGUMENT, e);
    } catch (IllegalArgumentException e) {
      listener.onError(
          CallStatus.INVALID_ARGUMENT.withDescription(e.getMessage()).toRuntimeException());
      return;
    }
    try {
      listener.onNext(new Result(ControlProtocol.encode(reply)));
      listener.onCompleted();
    } catch (IOException e) {
      listener.onError(
          CallStatus.INTERNAL
              .withDescription("the result of " + action.getType() + " cannot be serialized: " + e)
              .toRuntimeException());
    }
    if (ControlProtocol.EXIT.equals(action.getType())) {
      onExit.run();
    }
  }

  @SuppressWarnings("unchecked")
  private Object handle(String type, Object body) {
    switch (type) {
      case ControlProtocol.PING:
        return host.workerId() + " pid " + ProcessHandle.current().pid();
      case ControlProtocol.CREATE_ENGINE:
        {
          Object[] a = (Object[]) body;
          return host.createEngine((String) a[0], (String) a[1], (Object[]) a[2]);
        }
      case ControlProtocol.CALL:
        {
          Object[] a = (Object[]) body;
          return host.call((String) a[0], (String) a[1], (Object[]) a[2]);
        }
      case ControlProtocol.SET_ENV:
        host.setEnv((Map<String, String>) body);
        return Boolean.TRUE;
      case ControlProtocol.CONFIGURE:
        {
          Object[] a = (Object[]) body;
          host.configure((String) a[0], (Integer) a[1], (Long) a[2]);
          return Boolean.TRUE;
        }
      case ControlProtocol.ALLOC_PORTS:
        return Ports.free((Integer) body);
      case ControlProtocol.CLEAR_CACHE:
        return host.evict((List<String>) body);
      case ControlProtocol.MEMORY:
        return WorkerMemory.read(host.workerId(), data, allocator);
      case ControlProtocol.DESTROY:
        return new ArrayList<>(host.destroyAll());
      case ControlProtocol.EXIT:
        return Boolean.TRUE;
      default:
        throw new IllegalArgumentException(
            "unknown action '"
                + type
                + "'; known: ping, createEngine, call, setEnv, configure,"
                + " allocPorts, clearCache, memory, destroy, exit");
    }
  }

  @Override
  public void close() {
    server.shutdown();
    try {
      server.awaitTermination(5, java.util.concurrent.TimeUnit.SECONDS);
      server.close();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
