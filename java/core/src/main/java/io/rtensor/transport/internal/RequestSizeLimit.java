package io.rtensor.transport.internal;

import io.grpc.Metadata;
import io.grpc.ServerStreamTracer;
import io.grpc.Status;

/**
 * Refuses a call whose request messages pass a byte limit while they arrive, before gRPC has
 * buffered them whole: every method of a Flight server except the streams that carry shards (DoPut,
 * DoExchange) and the authentication handshake. A server's {@code maxInboundMessageSize} has to
 * admit a whole shard (DoPut sends one a message); without this a ticket or an action body of that
 * size would be received, copied and parsed before its own check refused it.
 *
 * <p>gRPC reports a stream's received body bytes to its tracers as its deframer reads them; the
 * tracer of a limited call fails the deframing with RESOURCE_EXHAUSTED once the count passes the
 * limit, which is how gRPC refuses a message over {@code maxInboundMessageSize}: the call is closed
 * with that status, its buffered bytes released, and the rest of the stream dropped.
 */
public final class RequestSizeLimit extends ServerStreamTracer.Factory {
  private static final ServerStreamTracer UNLIMITED = new ServerStreamTracer() {};
  private final long maxBytes;

  /** Requests of at most {@code maxBytes} bytes (all messages of a call together). */
  public RequestSizeLimit(long maxBytes) {
    this.maxBytes = maxBytes;
  }

  @Override
  public ServerStreamTracer newServerStreamTracer(String fullMethodName, Metadata headers) {
    String method = fullMethodName.substring(fullMethodName.lastIndexOf('/') + 1);
    if (method.equals("DoPut") || method.equals("DoExchange") || method.equals("Handshake")) {
      return UNLIMITED;
    }
    return new ServerStreamTracer() {
      private long received;

      @Override
      public void inboundWireSize(long bytes) {
        received += bytes;
        if (received > maxBytes) {
          throw Status.RESOURCE_EXHAUSTED
              .withDescription(
                  method + " request of more than " + maxBytes + " bytes refused as it arrived")
              .asRuntimeException();
        }
      }
    };
  }
}
