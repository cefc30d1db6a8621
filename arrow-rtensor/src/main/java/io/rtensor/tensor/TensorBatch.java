package io.rtensor.tensor;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.BaseFixedWidthVector;
import org.apache.arrow.vector.ExtensionTypeVector;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.VectorLoader;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.complex.FixedSizeListVector;
import org.apache.arrow.vector.ipc.message.ArrowFieldNode;
import org.apache.arrow.vector.ipc.message.ArrowRecordBatch;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.Schema;

/**
 * An ordered map of named tensors that share dimension 0 (the rows): one shard on the wire.
 *
 * <p>A batch owns its tensors: {@link #close()} closes them all. Slices and splits share memory
 * with the batch they came from (each holds its own references), so they may outlive it.
 *
 * <p>Rank-0 tensors have no rows; a batch may hold them only if all its tensors are rank 0 (it then
 * has one row on the wire and cannot be sliced).
 */
public final class TensorBatch implements AutoCloseable {
  private final Map<String, Tensor> tensors;
  private final long rows;
  private final boolean scalars;
  private boolean closed;

  private TensorBatch(LinkedHashMap<String, Tensor> tensors, long rows, boolean scalars) {
    this.tensors = Collections.unmodifiableMap(tensors);
    this.rows = rows;
    this.scalars = scalars;
  }

  /**
   * A batch of the given tensors, in the map's iteration order. On success the batch owns them; if
   * validation fails they stay the caller's.
   *
   * @throws IllegalArgumentException if dimension 0 differs, rank-0 tensors are mixed with others,
   *     a tensor is closed, or a name is empty
   */
  public static TensorBatch of(Map<String, Tensor> tensors) {
    LinkedHashMap<String, Tensor> copy = new LinkedHashMap<>(tensors);
    long rows = -1;
    int rank0 = 0;
    String first = null;
    for (Map.Entry<String, Tensor> e : copy.entrySet()) {
      String name = Objects.requireNonNull(e.getKey(), "tensor name");
      Tensor t = Objects.requireNonNull(e.getValue(), "tensor '" + name + "'");
      if (name.isEmpty()) {
        throw new IllegalArgumentException("tensor names must not be empty");
      }
      if (t.isClosed()) {
        throw new IllegalArgumentException("tensor '" + name + "' is closed");
      }
      if (t.shape().rank() == 0) {
        rank0++;
        continue;
      }
      if (rows < 0) {
        rows = t.rows();
        first = name;
      } else if (t.rows() != rows) {
        throw new IllegalArgumentException(
            "tensors must share dimension 0: '"
                + first
                + "' has "
                + rows
                + " rows, '"
                + name
                + "' has shape "
                + t.shape());
      }
    }
    if (rank0 > 0 && rank0 != copy.size()) {
      throw new IllegalArgumentException(
          "rank-0 tensors cannot share a batch with tensors that have rows: " + shapes(copy));
    }
    boolean scalars = rank0 > 0;
    return new TensorBatch(copy, scalars ? 1 : Math.max(rows, 0), scalars);
  }

  /** A batch of one tensor (a single-tensor shard); owns it. */
  public static TensorBatch of(String name, Tensor tensor) {
    LinkedHashMap<String, Tensor> m = new LinkedHashMap<>();
    m.put(name, tensor);
    return of(m);
  }

  private static String shapes(Map<String, Tensor> m) {
    StringBuilder sb = new StringBuilder("{");
    m.forEach((k, v) -> sb.append(sb.length() > 1 ? ", " : "").append(k).append(v.shape()));
    return sb.append("}").toString();
  }

  /** Rows (the shared dimension 0); 1 for a batch of rank-0 tensors, 0 for an empty batch. */
  public long rows() {
    return rows;
  }

  /** True if this batch holds rank-0 tensors. */
  public boolean isScalars() {
    return scalars;
  }

  /** Number of tensors. */
  public int size() {
    return tensors.size();
  }

  /** Tensor names, in order. */
  public Set<String> names() {
    return tensors.keySet();
  }

  /** The tensors by name, in order (unmodifiable; still owned by the batch). */
  public Map<String, Tensor> tensors() {
    checkOpen();
    return tensors;
  }

  /**
   * The named tensor, still owned by the batch.
   *
   * @throws IllegalArgumentException if there is none
   */
  public Tensor tensor(String name) {
    checkOpen();
    Tensor t = tensors.get(name);
    if (t == null) {
      throw new IllegalArgumentException("no tensor '" + name + "' in batch " + names());
    }
    return t;
  }

  /** The column specs, in order. */
  public List<ColumnSpec> columns() {
    List<ColumnSpec> out = new ArrayList<>();
    tensors.forEach((k, v) -> out.add(ColumnSpec.of(k, v)));
    return out;
  }

  // ---------------------------------------------------------------- slicing without copies

  /** Rows {@code [start, end)} as a batch sharing this batch's memory. */
  public TensorBatch slice(long start, long end) {
    checkOpen();
    if (scalars) {
      throw new IllegalStateException("a batch of rank-0 tensors has no rows to slice");
    }
    if (start < 0 || end < start || end > rows) {
      throw new IndexOutOfBoundsException(
          "rows [" + start + ", " + end + ") of a batch with " + rows + " rows");
    }
    LinkedHashMap<String, Tensor> out = new LinkedHashMap<>();
    try {
      for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
        out.put(e.getKey(), e.getValue().sliceRows(start, end));
      }
    } catch (RuntimeException e) {
      out.values().forEach(Tensor::close);
      throw e;
    }
    return new TensorBatch(out, end - start, false);
  }

  /**
   * A batch of read-only views of these tensors ({@link Tensor#readOnlyView()}), sharing their
   * memory; close both.
   */
  public TensorBatch readOnlyView() {
    checkOpen();
    LinkedHashMap<String, Tensor> out = new LinkedHashMap<>();
    try {
      tensors.forEach((name, t) -> out.put(name, t.readOnlyView()));
    } catch (RuntimeException e) {
      out.values().forEach(Tensor::close);
      throw e;
    }
    return new TensorBatch(out, rows, scalars);
  }

  /** Whether any tensor of this batch is read-only ({@link Tensor#isReadOnly()}). */
  public boolean isReadOnly() {
    return tensors.values().stream().anyMatch(Tensor::isReadOnly);
  }

  /**
   * Splits into {@code parts} batches of near-equal rows (the first {@code rows % parts} get one
   * more), sharing this batch's memory. Parts may be empty when there are fewer rows than parts.
   */
  public List<TensorBatch> split(int parts) {
    if (parts <= 0) {
      throw new IllegalArgumentException("parts must be positive, got " + parts);
    }
    long[] sizes = new long[parts];
    for (int i = 0; i < parts; i++) {
      sizes[i] = rows / parts + (i < rows % parts ? 1 : 0);
    }
    return splitBySizes(sizes);
  }

  /**
   * Splits into consecutive batches of the given row counts, which must sum to {@link #rows()}; the
   * parts share this batch's memory.
   */
  public List<TensorBatch> splitBySizes(long... sizes) {
    long sum = 0;
    for (long s : sizes) {
      if (s < 0) {
        throw new IllegalArgumentException("negative split size " + s);
      }
      sum += s;
    }
    if (sum != rows) {
      throw new IllegalArgumentException("split sizes sum to " + sum + ", batch has " + rows);
    }
    List<TensorBatch> out = new ArrayList<>(sizes.length);
    long start = 0;
    try {
      for (long s : sizes) {
        out.add(slice(start, start + s));
        start += s;
      }
    } catch (RuntimeException e) {
      out.forEach(TensorBatch::close);
      throw e;
    }
    return out;
  }

  // ---------------------------------------------------------------- concatenation (one copy)

  /**
   * Concatenates batches along dimension 0 into new memory from {@code allocator}: one copy of each
   * tensor's bytes. All batches must have the same names, dtypes and row shapes, in the same order.
   */
  public static TensorBatch concat(BufferAllocator allocator, List<TensorBatch> batches) {
    if (batches.isEmpty()) {
      throw new IllegalArgumentException("nothing to concatenate");
    }
    List<ColumnSpec> specs = batches.get(0).columns();
    long total = 0;
    for (TensorBatch b : batches) {
      b.checkOpen();
      if (b.scalars) {
        throw new IllegalArgumentException("batches of rank-0 tensors cannot be concatenated");
      }
      if (!b.columns().equals(specs)) {
        throw new IllegalArgumentException(
            "cannot concatenate batches with columns " + specs + " and " + b.columns());
      }
      total = Math.addExact(total, b.rows);
    }
    LinkedHashMap<String, Tensor> out = new LinkedHashMap<>();
    try {
      for (ColumnSpec spec : specs) {
        Tensor t = Tensor.allocateUninitialized(allocator, spec.dtype(), spec.shape(total));
        out.put(spec.name(), t);
        ArrowBuf dst = t.buffer();
        long at = 0;
        for (TensorBatch b : batches) {
          ArrowBuf src = b.tensors.get(spec.name()).data();
          dst.setBytes(at, src, 0, src.capacity());
          at += src.capacity();
        }
      }
    } catch (RuntimeException e) {
      out.values().forEach(Tensor::close);
      throw e;
    }
    return new TensorBatch(out, total, false);
  }

  // ---------------------------------------------------------------- Arrow VectorSchemaRoot

  /** The Arrow schema of this batch (see {@link TensorFields} for the layout). */
  public Schema schema() {
    List<Field> fields = new ArrayList<>();
    for (ColumnSpec c : columns()) {
      fields.add(TensorFields.field(c));
    }
    return new Schema(fields);
  }

  /**
   * A {@link VectorSchemaRoot} whose vectors share this batch's memory (no copy of tensor bytes;
   * validity buffers are allocated). {@code allocator} must share a root allocator with the
   * tensors' memory. The caller closes the root; the batch stays usable.
   *
   * @throws ReadOnlyTensorException if a tensor is read-only (Arrow vectors can be written)
   */
  public VectorSchemaRoot toVectorSchemaRoot(BufferAllocator allocator) {
    checkOpen();
    if (rows > Integer.MAX_VALUE) {
      throw new IllegalStateException(rows + " rows exceed an Arrow record batch");
    }
    List<ArrowFieldNode> nodes = new ArrayList<>();
    List<ArrowBuf> buffers = new ArrayList<>();
    ArrowBuf empty = allocator.getEmpty();
    for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
      ColumnSpec c = ColumnSpec.of(e.getKey(), e.getValue());
      nodes.add(new ArrowFieldNode(rows, 0));
      buffers.add(empty);
      if (!c.scalar() && c.rowShape().rank() > 0) {
        nodes.add(new ArrowFieldNode(rows * c.rowShape().numel(), 0));
        buffers.add(empty);
      }
      buffers.add(e.getValue().buffer());
    }
    VectorSchemaRoot root = VectorSchemaRoot.create(schema(), allocator);
    try (ArrowRecordBatch rb = new ArrowRecordBatch((int) rows, nodes, buffers)) {
      new VectorLoader(root).load(rb);
    } catch (RuntimeException e) {
      root.close();
      throw e;
    }
    return root;
  }

  /**
   * A batch whose tensors share the memory of {@code root}'s vectors (no copy); the root may be
   * closed afterwards. Columns must follow the layout of {@link TensorFields} and hold no nulls.
   *
   * @throws IllegalArgumentException if a column does not fit the layout
   */
  public static TensorBatch fromVectorSchemaRoot(VectorSchemaRoot root) {
    LinkedHashMap<String, Tensor> out = new LinkedHashMap<>();
    long rows = root.getRowCount();
    try {
      for (FieldVector column : root.getFieldVectors()) {
        FieldVector v = column;
        Field f = v.getField();
        List<Field> children = f.getChildren();
        Map<String, String> meta = new HashMap<>();
        if (f.getMetadata() != null) {
          meta.putAll(f.getMetadata());
        }
        ArrowType type = f.getType();
        if (type instanceof ArrowType.ExtensionType ext) {
          // A registered extension type: read its storage with the metadata it came from.
          meta.put(TensorFields.EXTENSION_NAME_KEY, ext.extensionName());
          meta.put(TensorFields.EXTENSION_METADATA_KEY, ext.serialize());
          type = ext.storageType();
          if (v instanceof ExtensionTypeVector<?> ev) {
            v = ev.getUnderlyingVector();
          }
        }
        ColumnSpec spec =
            TensorFields.parse(
                f.getName(), type, children.size() == 1 ? children.get(0).getType() : null, meta);
        if (v.getNullCount() != 0) {
          throw new IllegalArgumentException("column '" + f.getName() + "' holds nulls");
        }
        BaseFixedWidthVector data;
        if (v instanceof FixedSizeListVector list) {
          if (!(list.getDataVector() instanceof BaseFixedWidthVector d)) {
            throw new IllegalArgumentException(
                "column '" + f.getName() + "' has no fixed-width data");
          }
          if (d.getNullCount() != 0) {
            throw new IllegalArgumentException("column '" + f.getName() + "' holds null elements");
          }
          data = d;
        } else if (v instanceof BaseFixedWidthVector d) {
          data = d;
        } else {
          throw new IllegalArgumentException(
              "column '" + f.getName() + "' is a " + v.getClass().getSimpleName());
        }
        if (spec.scalar() && rows != 1) {
          throw new IllegalArgumentException(
              "rank-0 column '" + f.getName() + "' needs 1 row, root has " + rows);
        }
        out.put(spec.name(), Tensor.over(data.getDataBuffer(), 0, spec.dtype(), spec.shape(rows)));
      }
      return of(out);
    } catch (RuntimeException e) {
      out.values().forEach(Tensor::close);
      throw e;
    }
  }

  // ---------------------------------------------------------------- lifecycle

  /** Closes every tensor; idempotent. */
  @Override
  public void close() {
    if (!closed) {
      closed = true;
      tensors.values().forEach(Tensor::close);
    }
  }

  private void checkOpen() {
    if (closed) {
      throw new IllegalStateException("batch " + names() + " is closed");
    }
  }

  @Override
  public String toString() {
    return "TensorBatch(rows=" + rows + ", " + shapes(tensors) + (closed ? ", closed)" : ")");
  }
}
