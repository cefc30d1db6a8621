package io.rtensor.handle;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.rtensor.tensor.ColumnSpec;
import io.rtensor.tensor.DType;
import io.rtensor.tensor.Shape;
import io.rtensor.tensor.Tensor;
import io.rtensor.tensor.TensorBatch;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * A handle to a stored shard: what the controller holds instead of a tensor. It names the shard (id
 * and {@link ShardLocation}) and describes it (dtype, shape, bytes) without holding its bytes.
 *
 * <p>A handle stands either for one {@link Tensor} (stored as a one-column shard) or for a whole
 * {@link TensorBatch} (one shard, its columns named by {@link #columns()}). It travels through
 * Ray's Java serializer and as JSON ({@link #toJson()}, {@link #fromJson(String)}) for the local
 * control plane.
 *
 * <p>A plain class rather than a record: Ray's Java serializer (FST) cannot set a record's final
 * fields.
 */
public final class RTensor implements Serializable {
  private static final long serialVersionUID = 1L;
  private static final ObjectMapper JSON = new ObjectMapper();

  /** The column a single tensor is stored under in its shard. */
  public static final String TENSOR_COLUMN = "tensor";

  /** What the handle stands for. */
  public enum Kind {
    TENSOR,
    BATCH
  }

  private String shardId;
  private ShardLocation location;
  private Kind kind;
  private String dtype;
  private long[] shape;
  private long byteSize;
  private String[] columns;
  // A tensor kept in its producer's device memory: the CUDA IPC handle to it
  // (io.rtensor.device.DeviceIpcHandle#toBytes) and the node it can be opened on; null otherwise.
  private byte[] deviceIpc;
  private String deviceNode;

  /** For serializers. */
  RTensor() {}

  private RTensor(
      String shardId,
      ShardLocation location,
      Kind kind,
      String dtype,
      long[] shape,
      long byteSize,
      String[] columns) {
    this.shardId = Objects.requireNonNull(shardId, "shardId");
    this.location = Objects.requireNonNull(location, "location");
    this.kind = kind;
    this.dtype = dtype;
    this.shape = shape;
    this.byteSize = byteSize;
    this.columns = columns;
  }

  /** A handle to a stored one-tensor shard. */
  public static RTensor ofTensor(String shardId, ShardLocation location, Tensor tensor) {
    return ofTensor(shardId, location, tensor.dtype(), tensor.shape());
  }

  /**
   * A handle to a stored one-tensor shard of {@code dtype} and {@code shape} (a tensor that was on
   * a device, say).
   */
  public static RTensor ofTensor(String shardId, ShardLocation location, DType dtype, Shape shape) {
    return new RTensor(
        shardId,
        location,
        Kind.TENSOR,
        dtype.numpyName(),
        shape.dims(),
        shape.byteSize(dtype),
        new String[] {TENSOR_COLUMN});
  }

  /**
   * This tensor handle, also naming the device memory its producer keeps the tensor in until the
   * shard is cleared: {@code ipcHandle} (the bytes of an {@code io.rtensor.device.DeviceIpcHandle})
   * maps it into another process on node {@code node} ({@link DeviceNode#id()}). The shard stays
   * fetchable everywhere as well. The IPC handle is a capability to that memory: it travels with
   * the handle between this library's processes but never into {@link #toJson() JSON} or {@link
   * #toString()}.
   */
  public RTensor onDevice(byte[] ipcHandle, String node) {
    if (kind != Kind.TENSOR) {
      throw new IllegalStateException("only a tensor handle names device memory, not " + this);
    }
    RTensor out = new RTensor(shardId, location, kind, dtype, shape, byteSize, columns);
    out.deviceIpc = Objects.requireNonNull(ipcHandle, "ipcHandle").clone();
    out.deviceNode = Objects.requireNonNull(node, "node");
    return out;
  }

  /**
   * The bytes of the CUDA IPC handle to the device memory the producer keeps this tensor in (a
   * copy), or null when the tensor is only in its store ({@link #onDevice}).
   */
  public byte[] deviceIpc() {
    return deviceIpc == null ? null : deviceIpc.clone();
  }

  /** The node {@link #deviceIpc()} can be opened on, or null. */
  public String deviceNode() {
    return deviceNode;
  }

  /** A handle to a stored batch shard. */
  public static RTensor ofBatch(String shardId, ShardLocation location, TensorBatch batch) {
    return ofBatch(shardId, location, batch.columns(), batch.rows());
  }

  /** A handle to a stored batch shard of {@code columns} and {@code rows} rows. */
  public static RTensor ofBatch(
      String shardId, ShardLocation location, List<ColumnSpec> columns, long rows) {
    long bytes = 0;
    for (ColumnSpec c : columns) {
      bytes += c.shape(rows).byteSize(c.dtype());
    }
    return new RTensor(
        shardId,
        location,
        Kind.BATCH,
        null,
        new long[] {rows},
        bytes,
        columns.stream().map(ColumnSpec::name).toArray(String[]::new));
  }

  /** The shard's id, unique within its location (a UUID for Flight, the object id for Ray). */
  public String shardId() {
    return shardId;
  }

  /** Where the shard lives. */
  public ShardLocation location() {
    return location;
  }

  /** A tensor or a batch. */
  public Kind kind() {
    return kind;
  }

  /** The dtype of a tensor handle; null for a batch. */
  public DType dtype() {
    return dtype == null ? null : DType.parse(dtype);
  }

  /** The tensor's shape, or {@code [rows]} for a batch. */
  public Shape shape() {
    return Shape.of(shape);
  }

  /** Tensor bytes the shard holds (without the wire framing). */
  public long byteSize() {
    return byteSize;
  }

  /** Column names of the shard, in order. */
  public List<String> columns() {
    return List.of(columns);
  }

  /** This handle as one line of JSON. Ray object-store handles have no JSON form. */
  public String toJson() {
    if (location.plane() != ShardLocation.Plane.FLIGHT) {
      throw new IllegalStateException(
          "a Ray object-store handle carries its ObjectRef (ownership travels with it) and cannot be"
              + " written as JSON; the local control plane uses the Flight data plane");
    }
    ObjectNode n = JSON.createObjectNode();
    n.put("shardId", shardId);
    n.put("location", location.key());
    n.put("kind", kind.name());
    if (dtype != null) {
      n.put("dtype", dtype);
    }
    ArrayNode s = n.putArray("shape");
    for (long d : shape) {
      s.add(d);
    }
    n.put("byteSize", byteSize);
    ArrayNode c = n.putArray("columns");
    for (String name : columns) {
      c.add(name);
    }
    return n.toString();
  }

  /**
   * Reads a handle written by {@link #toJson()}.
   *
   * @throws IllegalArgumentException if the text is not such a handle
   */
  public static RTensor fromJson(String json) {
    try {
      JsonNode n = JSON.readTree(json);
      long[] shape = new long[n.required("shape").size()];
      for (int i = 0; i < shape.length; i++) {
        shape[i] = n.get("shape").get(i).asLong();
      }
      List<String> columns = new ArrayList<>();
      n.required("columns").forEach(c -> columns.add(c.asText()));
      Kind kind = Kind.valueOf(n.required("kind").asText());
      String dtype =
          n.hasNonNull("dtype") ? DType.parse(n.get("dtype").asText()).numpyName() : null;
      if (kind == Kind.TENSOR && dtype == null) {
        throw new IllegalArgumentException("a tensor handle needs a dtype");
      }
      Shape.of(shape); // validates
      return new RTensor(
          n.required("shardId").asText(),
          ShardLocation.flight(n.required("location").asText()),
          kind,
          dtype,
          shape,
          n.required("byteSize").asLong(),
          columns.toArray(new String[0]));
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new IllegalArgumentException(
          "not an RTensor JSON handle: " + e.getOriginalMessage(), e);
    }
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof RTensor r
        && shardId.equals(r.shardId)
        && location.equals(r.location)
        && kind == r.kind
        && Objects.equals(dtype, r.dtype)
        && Arrays.equals(shape, r.shape)
        && byteSize == r.byteSize
        && Arrays.equals(columns, r.columns);
  }

  @Override
  public int hashCode() {
    return Objects.hash(shardId, location, kind);
  }

  @Override
  public String toString() {
    return "RTensor("
        + (kind == Kind.TENSOR ? dtype + Arrays.toString(shape) : "batch" + List.of(columns))
        + " "
        + shardId
        + " @ "
        + location
        + (deviceNode == null ? "" : ", on device at node " + deviceNode)
        + ")";
  }
}
