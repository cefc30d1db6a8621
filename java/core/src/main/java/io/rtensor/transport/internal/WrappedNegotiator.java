package io.rtensor.transport.internal;

import io.grpc.netty.GrpcHttp2ConnectionHandler;
import io.grpc.netty.InternalProtocolNegotiator;
import io.netty.channel.ChannelHandler;
import io.netty.util.AsciiString;
import java.util.function.BiFunction;

/**
 * One of gRPC's protocol negotiators with a handler of ours in front of its negotiation handler, so
 * a connection's pipeline can be adjusted when gRPC sets it up (grpc-java has no other hook). The
 * handler {@code front} builds gets gRPC's negotiation handler and HTTP/2 handler; it puts the
 * negotiation handler into the pipeline itself.
 */
final class WrappedNegotiator implements InternalProtocolNegotiator.ProtocolNegotiator {
  private final InternalProtocolNegotiator.ProtocolNegotiator inner;
  private final BiFunction<ChannelHandler, GrpcHttp2ConnectionHandler, ChannelHandler> front;

  WrappedNegotiator(
      InternalProtocolNegotiator.ProtocolNegotiator inner,
      BiFunction<ChannelHandler, GrpcHttp2ConnectionHandler, ChannelHandler> front) {
    this.inner = inner;
    this.front = front;
  }

  @Override
  public AsciiString scheme() {
    return inner.scheme();
  }

  @Override
  public ChannelHandler newHandler(GrpcHttp2ConnectionHandler grpcHandler) {
    return front.apply(inner.newHandler(grpcHandler), grpcHandler);
  }

  @Override
  public void close() {
    inner.close();
  }
}
