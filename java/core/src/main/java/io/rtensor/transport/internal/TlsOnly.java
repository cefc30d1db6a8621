package io.rtensor.transport.internal;

import io.grpc.netty.InternalProtocolNegotiator;
import io.grpc.netty.InternalProtocolNegotiators;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.handler.ssl.SslContext;
import io.netty.util.ReferenceCountUtil;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;

/**
 * Answers a plaintext HTTP/2 client of a TLS shard server with an HTTP/2 GOAWAY ({@code
 * INADEQUATE_SECURITY}, its debug data saying TLS is required) instead of dropping the connection:
 * gRPC clients (Java and pyarrow) then fail the call with {@code PERMISSION_DENIED} and that text,
 * which is not retried as a lost connection would be. A connection whose first byte opens a TLS
 * record goes on to gRPC's TLS negotiation untouched.
 */
final class TlsOnly extends ChannelInboundHandlerAdapter {
  /** The content type of a TLS handshake record, the first byte a TLS client sends. */
  private static final int TLS_HANDSHAKE = 0x16;

  /** HTTP/2 INADEQUATE_SECURITY. */
  private static final int INADEQUATE_SECURITY = 0xC;

  static final String MESSAGE =
      "this rtensor Flight server requires TLS with its session's certificate (grpc+tls)";

  private boolean refused;

  /** gRPC's TLS server negotiation with this handler in front of it. */
  static InternalProtocolNegotiator.ProtocolNegotiator serverTls(SslContext context) {
    return new WrappedNegotiator(
        InternalProtocolNegotiators.serverTls(context),
        (negotiation, grpcHandler) ->
            new ChannelOutboundHandlerAdapter() {
              @Override
              public void handlerAdded(ChannelHandlerContext ctx) {
                ctx.pipeline().addFirst(new TlsOnly());
                ctx.pipeline().replace(this, null, negotiation);
              }
            });
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (refused) {
      ReferenceCountUtil.release(msg);
      return;
    }
    if (!(msg instanceof ByteBuf buf)
        || !buf.isReadable()
        || buf.getUnsignedByte(buf.readerIndex()) == TLS_HANDSHAKE
        || buf.getUnsignedByte(buf.readerIndex()) != 'P') {
      // TLS, or not HTTP/2 at all: TLS negotiation decides.
      ctx.pipeline().remove(this);
      ctx.fireChannelRead(msg);
      return;
    }
    refused = true;
    buf.release();
    byte[] debug = MESSAGE.getBytes(StandardCharsets.US_ASCII);
    ByteBuf out = ctx.alloc().buffer(9 + 9 + 8 + debug.length);
    // An empty SETTINGS frame (a client expects one first), then GOAWAY.
    writeFrameHeader(out, 0, 0x4);
    writeFrameHeader(out, 8 + debug.length, 0x7);
    out.writeInt(0); // last stream id
    out.writeInt(INADEQUATE_SECURITY);
    out.writeBytes(debug);
    ctx.writeAndFlush(out);
    // Leave the client time to read it before the socket closes (closing with its bytes unread
    // would reset the connection); it usually closes first.
    ctx.executor().schedule(() -> ctx.close(), 5, TimeUnit.SECONDS);
  }

  private static void writeFrameHeader(ByteBuf out, int length, int type) {
    out.writeMedium(length);
    out.writeByte(type);
    out.writeByte(0); // flags
    out.writeInt(0); // stream 0
  }
}
