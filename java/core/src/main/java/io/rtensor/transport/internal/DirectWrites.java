package io.rtensor.transport.internal;

import io.grpc.netty.InternalProtocolNegotiator;
import io.grpc.netty.InternalProtocolNegotiators;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.util.concurrent.PromiseCombiner;
import java.nio.ByteBuffer;

/**
 * Keeps Netty from copying Arrow bodies on their way to the socket.
 *
 * <p>A Flight message is a composite buffer: a small heap buffer with the protobuf fields and IPC
 * header, then the Arrow body's direct (off-heap) buffers. Netty's NIO channel writes only direct
 * buffers and copies anything else whole into a fresh direct buffer, so one heap component makes it
 * copy every DATA frame of a 16 MiB shard. This handler, first in the pipeline (next to the
 * socket), splits such a buffer into its parts: direct parts are written as they are (views of the
 * same memory) and only heap parts are copied. The original buffer is released when all parts are
 * written. Small buffers pass through unchanged: copying them is cheaper than splitting.
 */
@ChannelHandler.Sharable
public final class DirectWrites extends ChannelOutboundHandlerAdapter {
  static final DirectWrites INSTANCE = new DirectWrites();

  /** Below this many readable bytes a mixed buffer is left to Netty's copy. */
  static final int SPLIT_THRESHOLD = 64 << 10;

  private DirectWrites() {}

  /**
   * gRPC's plaintext server negotiation with this handler put first in every connection's pipeline:
   * for {@code NettyServerBuilder.protocolNegotiator}.
   */
  public static InternalProtocolNegotiator.ProtocolNegotiator serverPlaintext() {
    return new WrappedNegotiator(
        InternalProtocolNegotiators.serverPlaintext(),
        (negotiation, grpcHandler) ->
            new ChannelOutboundHandlerAdapter() {
              @Override
              public void handlerAdded(ChannelHandlerContext ctx) {
                ctx.pipeline().addFirst(INSTANCE);
                ctx.pipeline().replace(this, null, negotiation);
              }
            });
  }

  @Override
  public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
    if (!(msg instanceof ByteBuf buf)
        || buf.isDirect()
        || buf.readableBytes() < SPLIT_THRESHOLD
        || buf.nioBufferCount() < 2) {
      ctx.write(msg, promise);
      return;
    }
    ByteBuffer[] parts;
    try {
      parts = buf.nioBuffers();
    } catch (UnsupportedOperationException e) {
      ctx.write(msg, promise);
      return;
    }
    PromiseCombiner all = new PromiseCombiner(ctx.executor());
    for (ByteBuffer part : parts) {
      if (!part.hasRemaining()) {
        continue;
      }
      ByteBuf out;
      if (part.isDirect()) {
        // A view: freeing it does not free the memory, which `buf` keeps alive until the end.
        out = Unpooled.wrappedBuffer(part);
      } else {
        out = ctx.alloc().directBuffer(part.remaining());
        out.writeBytes(part);
      }
      ChannelPromise written = ctx.newPromise();
      all.add(written);
      ctx.write(out, written);
    }
    ChannelPromise done = ctx.newPromise();
    done.addListener(
        f -> {
          buf.release();
          if (f.isSuccess()) {
            promise.trySuccess();
          } else {
            promise.tryFailure(f.cause());
          }
        });
    all.finish(done);
  }
}
