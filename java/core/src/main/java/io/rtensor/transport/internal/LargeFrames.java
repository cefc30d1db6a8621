package io.rtensor.transport.internal;

import io.grpc.netty.GrpcHttp2ConnectionHandler;
import io.grpc.netty.InternalProtocolNegotiator;
import io.grpc.netty.InternalProtocolNegotiators;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.codec.http2.Http2CodecUtil;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.handler.ssl.SslContext;

/**
 * Plaintext gRPC client connections that accept HTTP/2 DATA frames of up to 16 MiB, keep received
 * bytes where the socket read put them, and send Arrow bodies without Netty copying them.
 *
 * <p>A sender may not write a frame larger than the receiver's {@code SETTINGS_MAX_FRAME_SIZE}, and
 * gRPC never advertises more than HTTP/2's default of 16 KiB: a 16 MiB shard then crosses as 1,024
 * frames, and the per-frame work of Netty's HTTP/2 codec and gRPC's stream (framing, flow control,
 * one buffer per frame) costs more CPU than moving the bytes. grpc-java has no option for it, so
 * this negotiator wraps gRPC's own plaintext one: once gRPC's HTTP/2 handler is in place and has
 * written its preface and initial SETTINGS, it writes a second SETTINGS frame with the larger
 * maximum. Netty applies it to the frame reader when the peer acknowledges it, and the peer's
 * encoder then writes DATA frames as large as its flow controller hands out per pass (bounded by
 * the flow-control windows and the server's write buffer: see FlightShardServer).
 *
 * <p>A frame larger than one socket read spans reads. Netty's default cumulator copies every read
 * into one growing buffer until the frame is whole (and copies it again each time that buffer
 * grows); the composite cumulator links the read buffers instead, and gRPC hands the frame's pieces
 * one at a time to {@link DoGetReader}, which copies each straight into the destination. Outbound,
 * {@link DirectWrites} keeps DoPut bodies from being copied.
 */
final class LargeFrames {
  /** The largest frame HTTP/2 allows, 2^24 - 1 bytes. */
  static final int MAX_FRAME_SIZE = Http2CodecUtil.MAX_FRAME_SIZE_UPPER_BOUND;

  private LargeFrames() {}

  /** A client-side plaintext negotiator advertising {@link #MAX_FRAME_SIZE}. */
  static InternalProtocolNegotiator.ProtocolNegotiator client() {
    return new WrappedNegotiator(InternalProtocolNegotiators.plaintext(), Advertise::new);
  }

  /**
   * As {@link #client()}, over TLS with {@code context}, the server's certificate checked for
   * {@code serverName}. TLS records carry at most 16 KiB each, but large HTTP/2 frames still spare
   * the per-frame work above them.
   */
  static InternalProtocolNegotiator.ProtocolNegotiator clientTls(
      SslContext context, String serverName) {
    return new WrappedNegotiator(
        InternalProtocolNegotiators.tls(context, serverName, null), Advertise::new);
  }

  /**
   * Sits in front of gRPC's plaintext negotiation handlers; when the negotiation has installed
   * gRPC's HTTP/2 handler (synchronously, while an event passes through), writes the SETTINGS frame
   * and leaves the pipeline.
   */
  private static final class Advertise extends ChannelInboundHandlerAdapter {
    private final ChannelHandler negotiation;
    private final GrpcHttp2ConnectionHandler grpcHandler;
    private boolean sent;

    Advertise(ChannelHandler negotiation, GrpcHttp2ConnectionHandler grpcHandler) {
      this.negotiation = negotiation;
      this.grpcHandler = grpcHandler;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
      ctx.pipeline().addAfter(ctx.name(), null, negotiation);
      grpcHandler.setCumulator(ByteToMessageDecoder.COMPOSITE_CUMULATOR);
      ctx.pipeline().addFirst(DirectWrites.INSTANCE);
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) throws Exception {
      super.channelActive(ctx);
      advertise(ctx);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) throws Exception {
      // Over TLS gRPC's HTTP/2 handler goes in when the TLS handshake ends, while the handshake's
      // last bytes are read.
      super.channelRead(ctx, msg);
      advertise(ctx);
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
      super.userEventTriggered(ctx, evt);
      advertise(ctx);
    }

    private void advertise(ChannelHandlerContext ctx) {
      ChannelHandlerContext http2 = ctx.pipeline().context(grpcHandler);
      if (sent || http2 == null || !ctx.channel().isActive()) {
        return;
      }
      sent = true;
      grpcHandler
          .encoder()
          .writeSettings(
              http2, new Http2Settings().maxFrameSize(MAX_FRAME_SIZE), http2.newPromise());
      http2.flush();
      ctx.pipeline().remove(this);
    }
  }
}
