package io.rtensor.transport;

import com.google.protobuf.ByteString;
import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.netty.NettyChannelBuilder;
import io.rtensor.auth.SessionAuthClient;
import io.rtensor.runtime.HostPort;
import io.rtensor.runtime.SessionSecret;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.Channels;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.arrow.flatbuf.Message;
import org.apache.arrow.flatbuf.RecordBatch;
import org.apache.arrow.flight.impl.Flight;
import org.apache.arrow.flight.impl.FlightServiceGrpc;
import org.apache.arrow.vector.ipc.WriteChannel;
import org.apache.arrow.vector.ipc.message.ArrowRecordBatch;
import org.apache.arrow.vector.ipc.message.MessageSerializer;
import org.apache.arrow.vector.types.pojo.Schema;

/**
 * DoPut streams written message by message, bytes as given: what a client that does not use Arrow's
 * writer (or means harm) can send. For tests of the server's checks.
 */
final class RawFlightPut implements AutoCloseable {
  private final ManagedChannel channel;
  private final SessionAuthClient session;

  RawFlightPut(String address, String secret) {
    HostPort hp = HostPort.parse(address);
    this.channel =
        NettyChannelBuilder.forAddress(hp.host(), hp.port())
            .usePlaintext()
            .maxInboundMessageSize(1 << 20)
            .build();
    this.session =
        new SessionAuthClient(
            channel, SessionSecret.of(secret).key(SessionSecret.DATA_PLANE), hp.toString());
  }

  /** One IPC message split as Flight carries it: the flatbuffer header and the body. */
  record Ipc(byte[] header, byte[] body) {
    /** The body offset of buffer {@code i} of this record batch message. */
    long bufferOffset(int i) {
      Message m = Message.getRootAsMessage(ByteBuffer.wrap(header));
      RecordBatch rb = (RecordBatch) m.header(new RecordBatch());
      return rb.buffers(i).offset();
    }
  }

  static Ipc schemaMessage(Schema schema) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    MessageSerializer.serialize(new WriteChannel(Channels.newChannel(out)), schema);
    return split(out.toByteArray());
  }

  static Ipc batchMessage(ArrowRecordBatch batch) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    MessageSerializer.serialize(new WriteChannel(Channels.newChannel(out)), batch);
    return split(out.toByteArray());
  }

  /** Continuation marker, metadata length, flatbuffer (padded), body. */
  private static Ipc split(byte[] bytes) {
    ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
    int at = 0;
    if (b.getInt(0) == -1) {
      at = 4;
    }
    int length = b.getInt(at);
    byte[] header = java.util.Arrays.copyOfRange(bytes, at + 4, at + 4 + length);
    byte[] body = java.util.Arrays.copyOfRange(bytes, at + 4 + length, bytes.length);
    return new Ipc(header, body);
  }

  static Flight.FlightData data(Flight.FlightDescriptor descriptor, Ipc ipc) {
    Flight.FlightData.Builder d =
        Flight.FlightData.newBuilder()
            .setDataHeader(ByteString.copyFrom(ipc.header()))
            .setDataBody(ByteString.copyFrom(ipc.body()));
    if (descriptor != null) {
      d.setFlightDescriptor(descriptor);
    }
    return d.build();
  }

  static Flight.FlightDescriptor command(byte[] command) {
    return Flight.FlightDescriptor.newBuilder()
        .setType(Flight.FlightDescriptor.DescriptorType.CMD)
        .setCmd(ByteString.copyFrom(command))
        .build();
  }

  /** Sends {@code messages} as one DoPut and returns its final status (within {@code seconds}). */
  Status put(List<Flight.FlightData> messages, long seconds) throws Exception {
    ClientCall<Flight.FlightData, Flight.PutResult> call =
        channel.newCall(
            FlightServiceGrpc.getDoPutMethod(),
            CallOptions.DEFAULT.withDeadlineAfter(seconds, TimeUnit.SECONDS));
    CompletableFuture<Status> closed = new CompletableFuture<>();
    Metadata headers = new Metadata();
    session.attach(headers);
    call.start(
        new ClientCall.Listener<>() {
          @Override
          public void onClose(Status status, Metadata trailers) {
            closed.complete(status);
          }
        },
        headers);
    call.request(Integer.MAX_VALUE);
    for (Flight.FlightData m : messages) {
      call.sendMessage(m);
    }
    call.halfClose();
    return closed.get(seconds + 5, TimeUnit.SECONDS);
  }

  @Override
  public void close() throws InterruptedException {
    channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
  }
}
