package io.rtensor.transport.internal;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.regex.Pattern;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.LargeVarBinaryVector;
import org.apache.arrow.vector.VarCharVector;
import org.apache.arrow.vector.VectorLoader;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.ipc.message.ArrowFieldNode;
import org.apache.arrow.vector.ipc.message.ArrowRecordBatch;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.FieldType;
import org.apache.arrow.vector.types.pojo.Schema;

/**
 * What the Flight data plane puts on the wire.
 *
 * <p>DoGet and DoPut streams have the schema {@code (id: utf8, shard: large_binary)}: each row is
 * one shard, its bytes the shard's own Arrow IPC stream (as {@link io.rtensor.wire.ShardCodec}
 * writes it), so one Flight stream carries shards of any schema and a stored shard is sent as it is
 * stored, never re-encoded. Tickets and action bodies are shard ids, UTF-8, one per line. Action
 * results are small JSON objects.
 *
 * <p>In a DoGet a shard of at least 1 MiB travels alone in its record batch, its stored buffer sent
 * without a copy; smaller ones are packed, one copy, into record batches of up to 4 MiB. The client
 * reads the messages with {@link DoGetReader}, landing each body in the caller's allocator.
 */
public final class FlightWire {
  /**
   * Error metadata key listing missing shard ids, comma-separated (a header value has no newlines).
   */
  public static final String MISSING_KEY = "rtensor-missing-shards";

  public static final String ACTION_CLEAR = "clear";
  public static final String ACTION_STATS = "stats";

  /**
   * Most ids in one ticket or action body: the client cuts larger requests (fetches by {@code
   * shardsPerRequest}, clears into several actions).
   */
  public static final int MAX_IDS = 8192;

  /** Most bytes of a ticket or action body: {@link #MAX_IDS} ids of 128 characters, one a line. */
  public static final int MAX_REQUEST_BYTES = MAX_IDS * 129;

  /**
   * Most bytes of one request message on the wire (a protobuf Ticket or Action around a body of
   * {@link #MAX_REQUEST_BYTES}); the server refuses a larger one as it arrives, before buffering
   * it.
   */
  public static final int MAX_REQUEST_MESSAGE_BYTES = MAX_REQUEST_BYTES + 4096;

  /** The prefix of a DoPut descriptor's command that declares the stream's shard bytes. */
  private static final String PUT_COMMAND = "rtensor-put bytes=";

  private static final Pattern ID = Pattern.compile("[A-Za-z0-9._:-]{1,128}");

  public static final Schema SCHEMA =
      new Schema(
          List.of(
              new Field("id", FieldType.notNullable(ArrowType.Utf8.INSTANCE), null),
              new Field("shard", FieldType.notNullable(ArrowType.LargeBinary.INSTANCE), null)));

  private FlightWire() {}

  /** Throws IllegalArgumentException unless {@code id} is a valid shard id. */
  public static String checkId(String id) {
    if (id == null || !ID.matcher(id).matches()) {
      throw new IllegalArgumentException(
          "invalid shard id '" + id + "': 1 to 128 of [A-Za-z0-9._:-]");
    }
    return id;
  }

  /** Ids, one per line. */
  public static byte[] encodeIds(List<String> ids) {
    ids.forEach(FlightWire::checkId);
    return String.join("\n", ids).getBytes(StandardCharsets.UTF_8);
  }

  /**
   * The distinct ids of a ticket or action body.
   *
   * @throws IllegalArgumentException saying what is malformed
   */
  public static List<String> parseIds(byte[] body, String what) {
    if (body == null || body.length == 0) {
      throw new IllegalArgumentException(what + " names no shard ids");
    }
    if (body.length > MAX_REQUEST_BYTES) {
      throw new IllegalArgumentException(what + " of " + body.length + " bytes is too long");
    }
    String text;
    try {
      text =
          StandardCharsets.UTF_8
              .newDecoder()
              .onMalformedInput(CodingErrorAction.REPORT)
              .onUnmappableCharacter(CodingErrorAction.REPORT)
              .decode(ByteBuffer.wrap(body))
              .toString();
    } catch (CharacterCodingException e) {
      throw new IllegalArgumentException(what + " is not UTF-8", e);
    }
    LinkedHashSet<String> ids = new LinkedHashSet<>();
    for (String line : text.split("\n", -1)) {
      ids.add(checkId(line));
    }
    if (ids.size() > MAX_IDS) {
      throw new IllegalArgumentException(what + " names more than " + MAX_IDS + " shards");
    }
    return new ArrayList<>(ids);
  }

  /** The command of a DoPut descriptor declaring {@code bytes} of shards. */
  public static byte[] putCommand(long bytes) {
    return (PUT_COMMAND + bytes).getBytes(StandardCharsets.US_ASCII);
  }

  /**
   * The shard bytes a DoPut descriptor's command declares, or -1 where it declares none (an empty
   * command, as other Flight clients send).
   *
   * @throws IllegalArgumentException if it declares something malformed
   */
  public static long declaredPutBytes(byte[] command) {
    if (command == null || command.length == 0) {
      return -1;
    }
    String text = new String(command, StandardCharsets.US_ASCII);
    if (command.length > 64 || !text.startsWith(PUT_COMMAND)) {
      throw new IllegalArgumentException(
          "the put descriptor's command is not '" + PUT_COMMAND + "N'");
    }
    try {
      long bytes = Long.parseLong(text.substring(PUT_COMMAND.length()));
      if (bytes < 0) {
        throw new IllegalArgumentException("the put declares " + bytes + " bytes");
      }
      return bytes;
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(
          "the put descriptor's command is not '" + PUT_COMMAND + "N'");
    }
  }

  /**
   * Loads {@code root} (of {@link #SCHEMA}) with one row: {@code id} and {@code length} bytes of
   * {@code data} at {@code offset}, without copying them. {@code scratch} allocates the offsets.
   */
  public static void loadRow(
      VectorSchemaRoot root,
      String id,
      ArrowBuf data,
      long offset,
      long length,
      BufferAllocator scratch) {
    byte[] idBytes = id.getBytes(StandardCharsets.UTF_8);
    try (ArrowBuf idOffsets = scratch.buffer(8);
        ArrowBuf idData = scratch.buffer(idBytes.length);
        ArrowBuf shardOffsets = scratch.buffer(16)) {
      idOffsets.setInt(0, 0);
      idOffsets.setInt(4, idBytes.length);
      idData.setBytes(0, idBytes);
      shardOffsets.setLong(0, 0);
      shardOffsets.setLong(8, length);
      ArrowBuf empty = scratch.getEmpty();
      ArrowBuf shard = data.slice(offset, length);
      try (ArrowRecordBatch rb =
          new ArrowRecordBatch(
              1,
              List.of(new ArrowFieldNode(1, 0), new ArrowFieldNode(1, 0)),
              List.of(empty, idOffsets, idData, empty, shardOffsets, shard))) {
        new VectorLoader(root).load(rb);
      }
    }
  }

  /**
   * Loads {@code root} with one row per shard: {@code ids[i]} and the readable bytes of {@code
   * shards[i]}, copied once into one data buffer (for packing small shards into one message).
   */
  public static void loadRows(
      VectorSchemaRoot root, List<String> ids, List<ArrowBuf> shards, BufferAllocator scratch) {
    int n = ids.size();
    List<byte[]> idBytes = new ArrayList<>(n);
    long idTotal = 0;
    long dataTotal = 0;
    for (int i = 0; i < n; i++) {
      byte[] b = ids.get(i).getBytes(StandardCharsets.UTF_8);
      idBytes.add(b);
      idTotal += b.length;
      dataTotal += shards.get(i).writerIndex();
    }
    try (ArrowBuf idOffsets = scratch.buffer(4L * (n + 1));
        ArrowBuf idData = scratch.buffer(Math.max(1, idTotal));
        ArrowBuf shardOffsets = scratch.buffer(8L * (n + 1));
        ArrowBuf data = scratch.buffer(Math.max(1, dataTotal))) {
      int idAt = 0;
      long dataAt = 0;
      for (int i = 0; i < n; i++) {
        idOffsets.setInt(4L * i, idAt);
        idData.setBytes(idAt, idBytes.get(i));
        idAt += idBytes.get(i).length;
        shardOffsets.setLong(8L * i, dataAt);
        ArrowBuf shard = shards.get(i);
        data.setBytes(dataAt, shard, 0, shard.writerIndex());
        dataAt += shard.writerIndex();
      }
      idOffsets.setInt(4L * n, idAt);
      shardOffsets.setLong(8L * n, dataAt);
      ArrowBuf empty = scratch.getEmpty();
      try (ArrowRecordBatch rb =
          new ArrowRecordBatch(
              n,
              List.of(new ArrowFieldNode(n, 0), new ArrowFieldNode(n, 0)),
              List.of(
                  empty,
                  idOffsets.slice(0, 4L * (n + 1)),
                  idData.slice(0, idTotal),
                  empty,
                  shardOffsets.slice(0, 8L * (n + 1)),
                  data.slice(0, dataTotal)))) {
        new VectorLoader(root).load(rb);
      }
    }
  }

  /** One row of a received batch: the id and where its shard bytes lie. */
  public record Row(String id, ArrowBuf data, long offset, long length) {}

  /**
   * The rows of {@code root} (of {@link #SCHEMA}); the buffers stay the root's.
   *
   * @throws IllegalArgumentException if the root is not of the schema, holds a null or an invalid
   *     id, or its offsets name bytes outside its buffers (a sender's bytes: checked, not trusted)
   */
  public static List<Row> rows(VectorSchemaRoot root) {
    if (!SCHEMA.equals(root.getSchema())) {
      throw new IllegalArgumentException(
          "stream schema " + root.getSchema() + " is not the shard schema " + SCHEMA);
    }
    VarCharVector ids = (VarCharVector) root.getVector(0);
    LargeVarBinaryVector shards = (LargeVarBinaryVector) root.getVector(1);
    int n = root.getRowCount();
    if (n < 0 || n > ids.getValueCount() || n > shards.getValueCount()) {
      throw new IllegalArgumentException(
          "a batch of "
              + n
              + " rows with "
              + ids.getValueCount()
              + " ids and "
              + shards.getValueCount()
              + " shards");
    }
    if (n == 0) {
      return List.of();
    }
    checkValidity(ids.getValidityBuffer(), n, "id");
    checkValidity(shards.getValidityBuffer(), n, "shard");
    ArrowBuf idOffsets = ids.getOffsetBuffer();
    ArrowBuf shardOffsets = shards.getOffsetBuffer();
    if (idOffsets.capacity() < 4L * (n + 1) || shardOffsets.capacity() < 8L * (n + 1)) {
      throw new IllegalArgumentException("the offsets of a batch of " + n + " rows are short");
    }
    long idLimit = ids.getDataBuffer().capacity();
    long shardLimit = shards.getDataBuffer().capacity();
    List<Row> rows = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      if (ids.isNull(i) || shards.isNull(i)) {
        throw new IllegalArgumentException("row " + i + " holds a null");
      }
      long idStart = idOffsets.getInt(4L * i);
      long idEnd = idOffsets.getInt(4L * (i + 1));
      if (idStart < 0 || idEnd < idStart || idEnd > idLimit) {
        throw new IllegalArgumentException(
            "row "
                + i
                + ": id offsets ["
                + idStart
                + ", "
                + idEnd
                + ") outside "
                + idLimit
                + " bytes");
      }
      byte[] idBytes = new byte[(int) (idEnd - idStart)];
      ids.getDataBuffer().getBytes(idStart, idBytes);
      String id = checkId(new String(idBytes, StandardCharsets.UTF_8));
      long start = shardOffsets.getLong(8L * i);
      long end = shardOffsets.getLong(8L * (i + 1));
      if (start < 0 || end < start || end > shardLimit) {
        throw new IllegalArgumentException(
            "row "
                + i
                + ": shard offsets ["
                + start
                + ", "
                + end
                + ") outside "
                + shardLimit
                + " bytes");
      }
      rows.add(new Row(id, shards.getDataBuffer(), start, end - start));
    }
    return rows;
  }

  private static void checkValidity(ArrowBuf validity, int rows, String what) {
    if (validity.capacity() < (rows + 7) / 8) {
      throw new IllegalArgumentException(
          "the " + what + " validity of a batch of " + rows + " rows is short");
    }
  }

  /** A JSON object of long-valued fields, in argument order: {@code json("a", 1, "b", 2)}. */
  public static byte[] json(Object... keysAndValues) {
    StringBuilder sb = new StringBuilder("{");
    for (int i = 0; i < keysAndValues.length; i += 2) {
      if (i > 0) {
        sb.append(',');
      }
      sb.append('"').append(keysAndValues[i]).append("\":").append(keysAndValues[i + 1]);
    }
    return sb.append('}').toString().getBytes(StandardCharsets.UTF_8);
  }
}
