package io.rtensor.scheduler.local.internal;

import io.rtensor.runtime.SessionSecret;
import java.io.IOException;
import java.time.Duration;
import java.util.Iterator;
import java.util.concurrent.TimeUnit;
import org.apache.arrow.flight.Action;
import org.apache.arrow.flight.CallOptions;
import org.apache.arrow.flight.FlightCallHeaders;
import org.apache.arrow.flight.FlightClient;
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
   * Runs one action and returns its decoded reply.
   *
   * @throws org.apache.arrow.flight.FlightRuntimeException for transport failures, deadlines and
   *     refused calls (its status code says which)
   * @throws java.io.NotSerializableException when the body cannot be serialized
   */
  public Object action(String type, Object body, Duration timeout)
      throws IOException, ClassNotFoundException {
    byte[] bytes = body == null ? new byte[0] : ControlProtocol.encode(body);
    Iterator<Result> results =
        client.doAction(
            new Action(type, bytes),
            CallOptions.timeout(timeout.toMillis(), TimeUnit.MILLISECONDS),
            secretHeader);
    if (!results.hasNext()) {
      throw new IOException("action " + type + " returned no result");
    }
    byte[] reply = results.next().getBody();
    while (results.hasNext()) {
      results.next();
    }
    return ControlProtocol.decode(reply, ControlClient.class.getClassLoader());
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
