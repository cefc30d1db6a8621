package io.rtensor.bench;

import io.rtensor.auth.SessionTls;
import io.rtensor.handle.RTensor;
import io.rtensor.runtime.SessionSecret;
import io.rtensor.tensor.DType;
import io.rtensor.tensor.Shape;
import io.rtensor.tensor.Tensor;
import io.rtensor.tensor.TensorBatch;
import io.rtensor.transport.FlightShardServer;
import io.rtensor.transport.FlightShardServerMain;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.List;
import org.apache.arrow.memory.BufferAllocator;

/**
 * The other JVM of {@link FlightWorkload}: a Flight shard server holding {@code count} float32
 * shards of {@code bytes} bytes ({@code big-0..}) plus {@code small} 4 KiB shards ({@code
 * small-0..}), and the baselines: a raw socket server that writes, from the same Arrow memory, the
 * same {@code count x bytes} bytes to a connection whose first byte is {@code B}, or the small
 * shards as length-prefixed messages in one stream to one whose first byte is {@code S}. With a
 * session TLS identity in its environment ({@link SessionTls#ENV}) it also serves the big shards
 * from a second, TLS, Flight server. All servers bind {@code host} (the optional fourth argument;
 * default 127.0.0.1). Prints {@code flight=host:port socket=port [flight-tls=host:port]}; exits
 * when stdin closes.
 */
public final class FlightBenchWorker {
  private FlightBenchWorker() {}

  public static void main(String[] args) throws Exception {
    int count = Integer.parseInt(args[0]);
    long bytes = Long.parseLong(args[1]);
    int small = Integer.parseInt(args[2]);
    String host = args.length > 3 ? args[3] : "127.0.0.1";
    SessionTls tls = SessionTls.fromEnvironment();
    String secret = SessionSecret.fromEnvironment().value();
    long cap = count * bytes + small * 8192L + (64 << 20);
    try (BufferAllocator root = FlightShardServerMain.newRootAllocator();
        FlightShardServer server =
            FlightShardServer.builder(root, secret).host(host).capBytes(cap).start();
        FlightShardServer tlsServer =
            tls == null
                ? null
                : FlightShardServer.builder(root, secret)
                    .host(host)
                    .capBytes(cap)
                    .tls(tls)
                    .start();
        ServerSocketChannel socket = ServerSocketChannel.open()) {
      List<Tensor> tensors = new ArrayList<>();
      for (int i = 0; i < count; i++) {
        Tensor t = Tensor.allocate(root, DType.FLOAT32, Shape.of(bytes / 4));
        tensors.add(t);
        try (TensorBatch b = TensorBatch.of(RTensor.TENSOR_COLUMN, t.share())) {
          server.putLocal("big-" + i, b);
          if (tlsServer != null) {
            tlsServer.putLocal("big-" + i, b);
          }
        }
      }
      List<Tensor> smallTensors = new ArrayList<>();
      for (int i = 0; i < small; i++) {
        Tensor t = Tensor.allocate(root, DType.FLOAT32, Shape.of(1024));
        smallTensors.add(t);
        try (TensorBatch b = TensorBatch.of(RTensor.TENSOR_COLUMN, t.share())) {
          server.putLocal("small-" + i, b);
        }
      }
      socket.bind(new InetSocketAddress(host, 0));
      Thread raw =
          new Thread(
              () -> {
                while (true) {
                  try (SocketChannel c = socket.accept()) {
                    ByteBuffer mode = ByteBuffer.allocate(1);
                    while (mode.hasRemaining()) {
                      if (c.read(mode) < 0) {
                        throw new IOException("closed before its mode byte");
                      }
                    }
                    if (mode.get(0) == SMALL) {
                      writeLengthPrefixed(c, smallTensors);
                    } else {
                      for (Tensor t : tensors) {
                        writeFully(c, t.asReadOnlyByteBuffer(0, (int) t.byteSize()));
                      }
                    }
                  } catch (IOException e) {
                    return;
                  }
                }
              },
              "raw-socket");
      raw.setDaemon(true);
      raw.start();
      System.out.println(
          "flight="
              + server.address()
              + " socket="
              + socket.socket().getLocalPort()
              + (tlsServer == null ? "" : " flight-tls=" + tlsServer.address()));
      System.out.flush();
      while (System.in.read() >= 0) {
        // until the benchmark closes stdin
      }
      tensors.forEach(Tensor::close);
      smallTensors.forEach(Tensor::close);
    }
  }

  /** The mode byte a raw-socket client sends first: the small shards, length-prefixed. */
  static final byte SMALL = 'S';

  /** The mode byte for the big shards, back to back. */
  static final byte BIG = 'B';

  /**
   * Writes each tensor as a 4-byte big-endian length and its bytes, in one stream, gathering up to
   * 64 messages a write (what a careful hand-written protocol does).
   */
  private static void writeLengthPrefixed(SocketChannel c, List<Tensor> messages)
      throws IOException {
    int perWrite = 64;
    for (int i = 0; i < messages.size(); i += perWrite) {
      List<ByteBuffer> parts = new ArrayList<>();
      for (Tensor t : messages.subList(i, Math.min(messages.size(), i + perWrite))) {
        parts.add(ByteBuffer.allocate(4).putInt(0, (int) t.byteSize()));
        parts.add(t.asReadOnlyByteBuffer(0, (int) t.byteSize()));
      }
      ByteBuffer[] array = parts.toArray(new ByteBuffer[0]);
      long left = 0;
      for (ByteBuffer b : array) {
        left += b.remaining();
      }
      while (left > 0) {
        left -= c.write(array);
      }
    }
  }

  private static void writeFully(SocketChannel c, ByteBuffer b) throws IOException {
    while (b.hasRemaining()) {
      c.write(b);
    }
  }
}
