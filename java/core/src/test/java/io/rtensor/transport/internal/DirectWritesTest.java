package io.rtensor.transport.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.CompositeByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.channel.embedded.EmbeddedChannel;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class DirectWritesTest {
  private static final int BODY = 256 << 10;

  /** A Flight-like message: a small heap header, then a direct body. */
  private static CompositeByteBuf message(ByteBuf direct) {
    ByteBuf header = Unpooled.wrappedBuffer(new byte[] {1, 2, 3, 4, 5});
    CompositeByteBuf m = Unpooled.compositeBuffer();
    m.addComponents(true, header, direct);
    return m;
  }

  private static ByteBuf directBody() {
    ByteBuf body = Unpooled.directBuffer(BODY);
    for (int i = 0; i < BODY; i++) {
      body.writeByte(i * 31);
    }
    return body;
  }

  private static List<ByteBuf> drain(EmbeddedChannel ch) {
    List<ByteBuf> out = new ArrayList<>();
    for (ByteBuf b; (b = ch.readOutbound()) != null; ) {
      out.add(b);
    }
    return out;
  }

  @Test
  void aMixedMessageIsWrittenAsItsPartsWithTheBodyNotCopied() {
    EmbeddedChannel ch = new EmbeddedChannel(DirectWrites.INSTANCE);
    ByteBuf body = directBody();
    long bodyAddress = body.memoryAddress();
    CompositeByteBuf m = message(body);
    assertFalse(m.isDirect(), "a heap part makes the whole message non-direct");
    // The embedded channel completes writes at once, when the handler releases the message: keep
    // a reference of our own so the parts' memory can still be read.
    m.retain();
    ChannelFuture f = ch.writeAndFlush(m);
    List<ByteBuf> parts = drain(ch);
    assertTrue(f.isSuccess());
    assertEquals(2, parts.size());
    assertTrue(parts.get(0).isDirect(), "the heap header was copied into direct memory");
    assertEquals(5, parts.get(0).readableBytes());
    assertEquals(3, parts.get(0).getByte(2));
    assertTrue(parts.get(1).isDirect());
    assertEquals(bodyAddress, parts.get(1).memoryAddress(), "the body is a view, not a copy");
    assertEquals(BODY, parts.get(1).readableBytes());
    assertEquals((byte) (100 * 31), parts.get(1).getByte(100));
    assertEquals(1, m.refCnt(), "the handler released its reference once the parts were written");
    parts.forEach(ByteBuf::release);
    m.release();
    assertFalse(ch.finish());
  }

  @Test
  void aSliceOfAMixedMessageKeepsItsBoundaries() {
    EmbeddedChannel ch = new EmbeddedChannel(DirectWrites.INSTANCE);
    CompositeByteBuf m = message(directBody());
    // An HTTP/2 DATA frame carries a slice: here from inside the header to the middle of the body.
    ByteBuf frame = m.retainedSlice(3, 2 + BODY / 2);
    ch.writeAndFlush(frame);
    List<ByteBuf> parts = drain(ch);
    assertEquals(2, parts.get(0).readableBytes());
    assertEquals(4, parts.get(0).getByte(0));
    assertEquals(BODY / 2, parts.get(1).readableBytes());
    assertEquals((byte) 0, parts.get(1).getByte(0));
    assertEquals(1, m.refCnt(), "the slice's reference was released");
    parts.forEach(ByteBuf::release);
    m.release();
    ch.finish();
  }

  @Test
  void directAndSmallMessagesPassThroughUnchanged() {
    EmbeddedChannel ch = new EmbeddedChannel(DirectWrites.INSTANCE);
    ByteBuf direct = directBody();
    ch.writeAndFlush(direct);
    assertSame(direct, ch.readOutbound());
    CompositeByteBuf small = Unpooled.compositeBuffer();
    small.addComponents(
        true, Unpooled.wrappedBuffer(new byte[] {9}), Unpooled.directBuffer(16).writeZero(16));
    ch.writeAndFlush(small);
    assertSame(small, ch.readOutbound(), "below the threshold Netty's own copy is cheaper");
    assertNull(ch.readOutbound());
    direct.release();
    small.release();
    ch.finish();
  }

  @Test
  void aFailedPartFailsTheWriteAndStillReleasesTheMessage() {
    EmbeddedChannel ch =
        new EmbeddedChannel(
            new ChannelOutboundHandlerAdapter() {
              @Override
              public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
                ((ByteBuf) msg).release();
                promise.setFailure(new IOException("connection reset"));
              }
            },
            DirectWrites.INSTANCE);
    CompositeByteBuf m = message(directBody());
    ChannelFuture f = ch.writeAndFlush(m);
    assertFalse(f.isSuccess());
    assertEquals("connection reset", f.cause().getMessage());
    assertEquals(0, m.refCnt());
    ch.finish();
  }
}
