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
 * small-0..}), and the baseline: a raw socket server that writes the same {@code count x bytes}
 * bytes, from the same Arrow memory, to every connection. With a session TLS identity in its
 * environment ({@link SessionTls#ENV}) it also serves the big shards from a second, TLS, Flight
 * server. Prints {@code flight=host:port socket=port [flight-tls=host:port]}; exits when stdin
 * closes.
 */
public final class FlightBenchWorker {
  private FlightBenchWorker() {}

  public static void main(String[] args) throws Exception {
    int count = Integer.parseInt(args[0]);
    long bytes = Long.parseLong(args[1]);
    int small = Integer.parseInt(args[2]);
    SessionTls tls = SessionTls.fromEnvironment();
    String secret = SessionSecret.fromEnvironment().value();
    long cap = count * bytes + small * 8192L + (64 << 20);
    try (BufferAllocator root = FlightShardServerMain.newRootAllocator();
        FlightShardServer server = FlightShardServer.builder(root, secret).capBytes(cap).start();
        FlightShardServer tlsServer =
            tls == null
                ? null
                : FlightShardServer.builder(root, secret).capBytes(cap).tls(tls).start();
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
      for (int i = 0; i < small; i++) {
        try (Tensor t = Tensor.allocate(root, DType.FLOAT32, Shape.of(1024));
            TensorBatch b = TensorBatch.of(RTensor.TENSOR_COLUMN, t.share())) {
          server.putLocal("small-" + i, b);
        }
      }
      socket.bind(new InetSocketAddress("127.0.0.1", 0));
      Thread raw =
          new Thread(
              () -> {
                while (true) {
                  try (SocketChannel c = socket.accept()) {
                    for (Tensor t : tensors) {
                      ByteBuffer b = t.buffer().nioBuffer(0, (int) t.byteSize());
                      while (b.hasRemaining()) {
                        c.write(b);
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
    }
  }
}
