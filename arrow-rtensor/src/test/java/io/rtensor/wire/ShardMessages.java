package io.rtensor.wire;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import org.apache.arrow.flatbuf.Message;

/** The message frames of a valid encoded shard, for tests that cut and splice them. */
record ShardMessages(List<Frame> frames) {
  /** One message: where it starts, its metadata length (after the 8-byte prefix), its body. */
  record Frame(int offset, int metadataLength, long bodyLength) {
    int metadataStart() {
      return offset + 8;
    }

    int bodyStart() {
      return metadataStart() + metadataLength;
    }

    int end() {
      return bodyStart() + (int) bodyLength;
    }
  }

  static ShardMessages of(byte[] shard) {
    ByteBuffer b = ByteBuffer.wrap(shard).order(ByteOrder.LITTLE_ENDIAN);
    List<Frame> out = new ArrayList<>();
    int at = 0;
    while (at + 8 <= shard.length && b.getInt(at + 4) != 0) {
      int len = b.getInt(at + 4);
      Message m = Message.getRootAsMessage(ByteBuffer.wrap(shard, at + 8, len).slice());
      Frame f = new Frame(at, len, m.bodyLength());
      out.add(f);
      at = f.end();
    }
    return new ShardMessages(out);
  }

  Frame schema() {
    return frames.get(0);
  }

  Frame batch() {
    return frames.get(1);
  }
}
