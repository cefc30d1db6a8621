package io.rtensor.testing;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.HandlerRegistry;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerMethodDefinition;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.NettyServerBuilder;
import io.rtensor.runtime.HostPort;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.apache.arrow.flight.impl.Flight;
import org.apache.arrow.flight.impl.FlightServiceGrpc;

/**
 * A process that took over a port: it accepts connections there, records every byte clients send
 * ({@link #rawBytes}), and speaks enough gRPC to see what they ask (each call's method, headers and
 * messages, {@link #calls}). It answers a Flight handshake hello with a challenge: a made-up one,
 * or, given a live server to relay to, that server's own (the strongest thing a squatter can send
 * without the session key). It answers every other call with an error.
 */
public final class PortSquatter implements AutoCloseable {
  private static final String HANDSHAKE =
      FlightServiceGrpc.getHandshakeMethod().getFullMethodName();
  private static final MethodDescriptor.Marshaller<byte[]> RAW =
      new MethodDescriptor.Marshaller<>() {
        @Override
        public InputStream stream(byte[] value) {
          return new ByteArrayInputStream(value);
        }

        @Override
        public byte[] parse(InputStream stream) {
          try {
            return stream.readAllBytes();
          } catch (IOException e) {
            throw new IllegalStateException(e);
          }
        }
      };

  /** One call a client made: its method, its headers (name to values) and its messages. */
  public record Call(String method, Map<String, List<byte[]>> headers, List<byte[]> messages) {}

  private final ServerSocket front;
  private final Server backend;
  private final HostPort relayTo;
  private final ByteArrayOutputStream raw = new ByteArrayOutputStream();
  private final List<Call> calls = Collections.synchronizedList(new ArrayList<>());
  private final List<Socket> sockets = Collections.synchronizedList(new ArrayList<>());
  private volatile long lastActivity = System.nanoTime();

  private PortSquatter(ServerSocket front, HostPort relayTo) throws IOException {
    this.front = front;
    this.relayTo = relayTo;
    this.backend =
        NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
            .fallbackHandlerRegistry(new AnyMethod())
            .build()
            .start();
    Thread acceptor = new Thread(this::accept, "squatter-accept-" + front.getLocalPort());
    acceptor.setDaemon(true);
    acceptor.start();
  }

  /**
   * Binds {@code port} on 127.0.0.1 (0: any free one). With {@code relayTo}, a handshake hello is
   * passed to that live server and its challenge sent back.
   */
  public static PortSquatter bind(int port, HostPort relayTo) throws IOException {
    ServerSocket s = new ServerSocket();
    s.setReuseAddress(true);
    s.bind(new InetSocketAddress(InetAddress.getByName("127.0.0.1"), port));
    return new PortSquatter(s, relayTo);
  }

  public int port() {
    return front.getLocalPort();
  }

  /** Every byte clients sent to the port, in arrival order per connection. */
  public byte[] rawBytes() {
    synchronized (raw) {
      return raw.toByteArray();
    }
  }

  /** The calls clients made. */
  public List<Call> calls() {
    synchronized (calls) {
      return List.copyOf(calls);
    }
  }

  /** The payloads of every handshake message clients sent. */
  public List<byte[]> handshakePayloads() {
    List<byte[]> out = new ArrayList<>();
    for (Call c : calls()) {
      if (c.method().equals(HANDSHAKE)) {
        for (byte[] m : c.messages()) {
          try {
            out.add(Flight.HandshakeRequest.parseFrom(m).getPayload().toByteArray());
          } catch (InvalidProtocolBufferException e) {
            out.add(m);
          }
        }
      }
    }
    return out;
  }

  /** The values of every {@code auth-token-bin} header clients sent. */
  public List<byte[]> tokens() {
    List<byte[]> out = new ArrayList<>();
    for (Call c : calls()) {
      out.addAll(c.headers().getOrDefault("auth-token-bin", List.of()));
    }
    return out;
  }

  /** Waits until no client has sent anything for 300 ms (at most 10 s). */
  public void awaitQuiet() throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (System.nanoTime() - lastActivity < TimeUnit.MILLISECONDS.toNanos(300)
        && System.nanoTime() < deadline) {
      Thread.sleep(50);
    }
  }

  private void accept() {
    while (!front.isClosed()) {
      try {
        Socket client = front.accept();
        Socket server = new Socket("127.0.0.1", backend.getPort());
        sockets.add(client);
        sockets.add(server);
        pump(client.getInputStream(), server.getOutputStream(), true);
        pump(server.getInputStream(), client.getOutputStream(), false);
      } catch (IOException e) {
        return; // closed
      }
    }
  }

  private void pump(InputStream in, OutputStream out, boolean record) {
    Thread t =
        new Thread(
            () -> {
              byte[] buf = new byte[8192];
              try {
                int n;
                while ((n = in.read(buf)) >= 0) {
                  if (record) {
                    synchronized (raw) {
                      raw.write(buf, 0, n);
                    }
                    lastActivity = System.nanoTime();
                  }
                  out.write(buf, 0, n);
                  out.flush();
                }
              } catch (IOException e) {
                // one side went away
              } finally {
                try {
                  out.close();
                } catch (IOException ignored) {
                  // already closed
                }
              }
            },
            "squatter-pump");
    t.setDaemon(true);
    t.start();
  }

  /** Serves any method: records the call, and answers as the class comment says. */
  private final class AnyMethod extends HandlerRegistry {
    @Override
    public ServerMethodDefinition<?, ?> lookupMethod(String methodName, String authority) {
      MethodDescriptor<byte[], byte[]> method =
          MethodDescriptor.<byte[], byte[]>newBuilder()
              .setType(MethodDescriptor.MethodType.BIDI_STREAMING)
              .setFullMethodName(methodName)
              .setRequestMarshaller(RAW)
              .setResponseMarshaller(RAW)
              .build();
      ServerServiceDefinition service =
          ServerServiceDefinition.builder(MethodDescriptor.extractFullServiceName(methodName))
              .addMethod(method, this::handle)
              .build();
      return service.getMethod(methodName);
    }

    private ServerCall.Listener<byte[]> handle(ServerCall<byte[], byte[]> call, Metadata headers) {
      Map<String, List<byte[]>> recorded = new LinkedHashMap<>();
      for (String key : headers.keys()) {
        List<byte[]> values = new ArrayList<>();
        if (key.endsWith(Metadata.BINARY_HEADER_SUFFIX)) {
          headers
              .getAll(Metadata.Key.of(key, Metadata.BINARY_BYTE_MARSHALLER))
              .forEach(values::add);
        } else {
          headers
              .getAll(Metadata.Key.of(key, Metadata.ASCII_STRING_MARSHALLER))
              .forEach(v -> values.add(v.getBytes(StandardCharsets.US_ASCII)));
        }
        recorded.put(key, values);
      }
      List<byte[]> messages = Collections.synchronizedList(new ArrayList<>());
      String name = call.getMethodDescriptor().getFullMethodName();
      calls.add(new Call(name, recorded, messages));
      lastActivity = System.nanoTime();
      call.request(1);
      return new ServerCall.Listener<>() {
        private boolean answered;

        @Override
        public void onMessage(byte[] message) {
          messages.add(message);
          lastActivity = System.nanoTime();
          if (!name.equals(HANDSHAKE)) {
            call.close(Status.INTERNAL.withDescription("squatter"), new Metadata());
            return;
          }
          if (!answered) {
            answered = true;
            byte[] challenge = challengeFor(message);
            call.sendHeaders(new Metadata());
            call.sendMessage(
                Flight.HandshakeResponse.newBuilder()
                    .setPayload(ByteString.copyFrom(challenge))
                    .build()
                    .toByteArray());
          }
          call.request(1);
        }

        @Override
        public void onHalfClose() {
          call.close(Status.UNAUTHENTICATED.withDescription("squatter"), new Metadata());
        }
      };
    }
  }

  /** A live server's challenge to the client's hello, or a made-up one. */
  private byte[] challengeFor(byte[] helloMessage) {
    byte[] hello;
    try {
      hello = Flight.HandshakeRequest.parseFrom(helloMessage).getPayload().toByteArray();
    } catch (InvalidProtocolBufferException e) {
      hello = new byte[0];
    }
    if (relayTo != null) {
      byte[] relayed = relay(hello);
      if (relayed != null) {
        return relayed;
      }
    }
    byte[] made = new byte[5 + 64];
    new SecureRandom().nextBytes(made);
    System.arraycopy(new byte[] {'R', 'T', 'A', '1', 2}, 0, made, 0, 5);
    byte[] id = HostPort.join("127.0.0.1", port()).getBytes(StandardCharsets.UTF_8);
    byte[] out = new byte[made.length + id.length];
    System.arraycopy(made, 0, out, 0, made.length);
    System.arraycopy(id, 0, out, made.length, id.length);
    return out;
  }

  private byte[] relay(byte[] hello) {
    ManagedChannel channel =
        NettyChannelBuilder.forAddress(relayTo.host(), relayTo.port()).usePlaintext().build();
    try {
      ClientCall<Flight.HandshakeRequest, Flight.HandshakeResponse> call =
          channel.newCall(
              FlightServiceGrpc.getHandshakeMethod(),
              CallOptions.DEFAULT.withDeadlineAfter(5, TimeUnit.SECONDS));
      LinkedBlockingQueue<byte[]> replies = new LinkedBlockingQueue<>();
      call.start(
          new ClientCall.Listener<>() {
            @Override
            public void onMessage(Flight.HandshakeResponse message) {
              replies.add(message.getPayload().toByteArray());
            }
          },
          new Metadata());
      call.request(1);
      call.sendMessage(
          Flight.HandshakeRequest.newBuilder().setPayload(ByteString.copyFrom(hello)).build());
      byte[] challenge = replies.poll(5, TimeUnit.SECONDS);
      call.cancel("relay done", null);
      return challenge;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return null;
    } finally {
      channel.shutdownNow();
    }
  }

  /** What a live server answered a replayed call: its messages and how it ended. */
  public record Replayed(List<byte[]> messages, Status status) {}

  /**
   * Makes {@code call} again against {@code target}, with the same method, headers and messages,
   * and returns what came back within {@code waitMillis} (then it cancels the call).
   */
  public static Replayed replay(HostPort target, Call call, long waitMillis)
      throws InterruptedException {
    ManagedChannel channel =
        NettyChannelBuilder.forAddress(target.host(), target.port()).usePlaintext().build();
    try {
      MethodDescriptor<byte[], byte[]> method =
          MethodDescriptor.<byte[], byte[]>newBuilder()
              .setType(MethodDescriptor.MethodType.BIDI_STREAMING)
              .setFullMethodName(call.method())
              .setRequestMarshaller(RAW)
              .setResponseMarshaller(RAW)
              .build();
      Metadata headers = new Metadata();
      call.headers()
          .forEach(
              (key, values) -> {
                if (key.startsWith(":")
                    || key.startsWith("grpc-")
                    || List.of("content-type", "te", "user-agent").contains(key)) {
                  return;
                }
                for (byte[] v : values) {
                  if (key.endsWith(Metadata.BINARY_HEADER_SUFFIX)) {
                    headers.put(Metadata.Key.of(key, Metadata.BINARY_BYTE_MARSHALLER), v);
                  } else {
                    headers.put(
                        Metadata.Key.of(key, Metadata.ASCII_STRING_MARSHALLER),
                        new String(v, StandardCharsets.US_ASCII));
                  }
                }
              });
      ClientCall<byte[], byte[]> replayed =
          channel.newCall(
              method,
              CallOptions.DEFAULT.withDeadlineAfter(waitMillis + 5_000, TimeUnit.MILLISECONDS));
      List<byte[]> messages = Collections.synchronizedList(new ArrayList<>());
      LinkedBlockingQueue<Status> end = new LinkedBlockingQueue<>();
      replayed.start(
          new ClientCall.Listener<>() {
            @Override
            public void onMessage(byte[] message) {
              messages.add(message);
            }

            @Override
            public void onClose(Status status, Metadata trailers) {
              end.add(status);
            }
          },
          headers);
      replayed.request(100);
      call.messages().forEach(replayed::sendMessage);
      Status status = end.poll(waitMillis, TimeUnit.MILLISECONDS);
      if (status == null) {
        replayed.cancel("replay over", null);
        status = end.poll(5, TimeUnit.SECONDS);
      }
      return new Replayed(List.copyOf(messages), status);
    } finally {
      channel.shutdownNow();
    }
  }

  /** Sends {@code bytes} to {@code target} over a fresh connection; returns what came back. */
  public static byte[] replayRaw(HostPort target, byte[] bytes, long waitMillis)
      throws IOException {
    try (Socket s = new Socket(target.host(), target.port())) {
      s.getOutputStream().write(bytes);
      s.getOutputStream().flush();
      s.setSoTimeout(200);
      ByteArrayOutputStream got = new ByteArrayOutputStream();
      long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(waitMillis);
      byte[] buf = new byte[8192];
      while (System.nanoTime() < deadline) {
        try {
          int n = s.getInputStream().read(buf);
          if (n < 0) {
            break;
          }
          got.write(buf, 0, n);
        } catch (java.net.SocketTimeoutException e) {
          // keep reading until the deadline
        }
      }
      return got.toByteArray();
    }
  }

  @Override
  public void close() throws IOException {
    front.close();
    synchronized (sockets) {
      for (Socket s : sockets) {
        s.close();
      }
    }
    backend.shutdownNow();
  }
}
