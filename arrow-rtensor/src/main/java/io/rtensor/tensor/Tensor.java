package io.rtensor.tensor;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Objects;
import java.util.Optional;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.ForeignAllocation;
import org.apache.arrow.memory.util.ByteFunctionHelpers;
import org.apache.arrow.memory.util.MemoryUtil;

/**
 * A dense tensor: contiguous row-major little-endian elements in Arrow memory, with a dtype and a
 * shape.
 *
 * <p>A tensor owns one reference to its {@link ArrowBuf}'s memory; {@link #close()} drops it.
 * Several tensors may share memory (slices, decoded shards that share a received body): the memory
 * is freed when the last of them closes. The accounting allocator is the one that created the
 * buffer, so a test that closes its allocator learns of any tensor left open.
 *
 * <p>A tensor is <em>read-only</em> where its memory is not rtensor's to write: for example a shard
 * mapped in place from the Ray object store, which other processes read too ({@link
 * #isReadOnly()}). Such a tensor, and every view of it, refuses {@link #buffer()} and {@link
 * TensorBatch#toVectorSchemaRoot}, the API's ways to write; it is read through the element and bulk
 * reads, {@link #asReadOnlyByteBuffer}, or {@link #memoryAddress()} by native readers, and {@link
 * #copy} makes a writable copy.
 */
public final class Tensor implements AutoCloseable {
  private final DType dtype;
  private final Shape shape;
  private final ArrowBuf data; // exactly byteSize() bytes long
  private final boolean readOnly;
  private boolean closed;

  private Tensor(DType dtype, Shape shape, ArrowBuf data) {
    this(dtype, shape, data, false);
  }

  private Tensor(DType dtype, Shape shape, ArrowBuf data, boolean readOnly) {
    this.dtype = dtype;
    this.shape = shape;
    this.data = data;
    this.readOnly = readOnly;
  }

  // ---------------------------------------------------------------- factories

  /** A zero-filled tensor allocated from {@code allocator}. */
  public static Tensor allocate(BufferAllocator allocator, DType dtype, Shape shape) {
    Tensor t = allocateUninitialized(allocator, dtype, shape);
    t.data.setZero(0, t.data.capacity());
    return t;
  }

  /** A tensor whose bytes are not initialised; the caller fills them (bulk copies, DMA). */
  public static Tensor allocateUninitialized(BufferAllocator allocator, DType dtype, Shape shape) {
    Objects.requireNonNull(allocator, "allocator");
    long bytes = shape.byteSize(Objects.requireNonNull(dtype, "dtype"));
    ArrowBuf buf = allocator.buffer(bytes);
    try {
      ArrowBuf view = buf.slice(0, bytes);
      return new Tensor(dtype, shape, view);
    } catch (RuntimeException e) {
      buf.getReferenceManager().release();
      throw e;
    }
  }

  /**
   * A tensor over {@code byteSize} bytes of an existing buffer starting at {@code offset}. It takes
   * its own reference: the caller keeps (and must still release) the one it holds.
   */
  public static Tensor over(ArrowBuf buffer, long offset, DType dtype, Shape shape) {
    Objects.requireNonNull(buffer, "buffer");
    long bytes = shape.byteSize(Objects.requireNonNull(dtype, "dtype"));
    checkFits(buffer, offset, dtype, shape, bytes);
    ArrowBuf view = buffer.slice(offset, bytes);
    buffer.getReferenceManager().retain();
    return new Tensor(dtype, shape, view);
  }

  /**
   * Like {@link #over(ArrowBuf, long, DType, Shape)}, but the new reference is accounted to {@code
   * accountTo} where it shares the buffer's root allocator (Arrow moves the accounting between
   * allocators of one tree); otherwise to the buffer's own allocator.
   */
  public static Tensor over(
      ArrowBuf buffer, long offset, DType dtype, Shape shape, BufferAllocator accountTo) {
    BufferAllocator owner = buffer.getReferenceManager().getAllocator();
    if (accountTo == null || accountTo == owner || accountTo.getRoot() != owner.getRoot()) {
      return over(buffer, offset, dtype, shape);
    }
    long bytes = shape.byteSize(Objects.requireNonNull(dtype, "dtype"));
    checkFits(buffer, offset, dtype, shape, bytes);
    ArrowBuf view = buffer.slice(offset, bytes);
    return new Tensor(dtype, shape, view.getReferenceManager().retain(view, accountTo));
  }

  private static void checkFits(
      ArrowBuf buffer, long offset, DType dtype, Shape shape, long bytes) {
    if (offset < 0 || offset > buffer.capacity() || bytes > buffer.capacity() - offset) {
      throw new IndexOutOfBoundsException(
          "tensor "
              + dtype
              + shape
              + " ("
              + bytes
              + " bytes) at offset "
              + offset
              + " does not fit a buffer of "
              + buffer.capacity()
              + " bytes");
    }
  }

  /**
   * A tensor that uses the memory of a direct {@link ByteBuffer} without copying, from its position
   * for {@code shape.byteSize(dtype)} bytes. The memory is accounted to {@code allocator}; the
   * tensor keeps the ByteBuffer reachable until it is closed.
   */
  public static Tensor wrap(
      BufferAllocator allocator, ByteBuffer direct, DType dtype, Shape shape) {
    if (!direct.isDirect()) {
      throw new IllegalArgumentException(
          "wrap needs a direct ByteBuffer; use copyOf for heap ones");
    }
    long bytes = shape.byteSize(dtype);
    if (bytes > direct.remaining()) {
      throw new IllegalArgumentException(
          "tensor "
              + dtype
              + shape
              + " needs "
              + bytes
              + " bytes, buffer has "
              + direct.remaining());
    }
    if (bytes == 0) {
      return allocate(allocator, dtype, shape);
    }
    long address = MemoryUtil.getByteBufferAddress(direct) + direct.position();
    ArrowBuf buf =
        allocator.wrapForeignAllocation(new ByteBufferAllocation(direct, address, bytes));
    return new Tensor(dtype, shape, buf.slice(0, bytes));
  }

  /** A tensor holding a copy of the {@code remaining()} bytes of {@code src} (little-endian). */
  public static Tensor copyOf(BufferAllocator allocator, ByteBuffer src, DType dtype, Shape shape) {
    long bytes = shape.byteSize(dtype);
    if (bytes != src.remaining()) {
      throw new IllegalArgumentException(
          "tensor " + dtype + shape + " needs " + bytes + " bytes, buffer has " + src.remaining());
    }
    Tensor t = allocateUninitialized(allocator, dtype, shape);
    t.data.setBytes(0, src.duplicate());
    return t;
  }

  /** A tensor of raw little-endian element bytes. */
  public static Tensor fromBytes(
      BufferAllocator allocator, DType dtype, Shape shape, byte[] bytes) {
    long need = shape.byteSize(dtype);
    if (need != bytes.length) {
      throw new IllegalArgumentException(
          "tensor " + dtype + shape + " needs " + need + " bytes, got " + bytes.length);
    }
    Tensor t = allocateUninitialized(allocator, dtype, shape);
    MemoryUtil.copyToMemory(bytes, 0, t.data.memoryAddress(), bytes.length);
    return t;
  }

  /** A 1-D float32 tensor. */
  public static Tensor of(BufferAllocator allocator, float[] values) {
    return of(allocator, values, Shape.of(values.length));
  }

  /** A float32 tensor of the given shape. */
  public static Tensor of(BufferAllocator allocator, float[] values, Shape shape) {
    Tensor t = filled(allocator, DType.FLOAT32, shape, values.length);
    t.writeView().asFloatBuffer().put(values);
    return t;
  }

  /** A 1-D float64 tensor. */
  public static Tensor of(BufferAllocator allocator, double[] values) {
    return of(allocator, values, Shape.of(values.length));
  }

  /** A float64 tensor of the given shape. */
  public static Tensor of(BufferAllocator allocator, double[] values, Shape shape) {
    Tensor t = filled(allocator, DType.FLOAT64, shape, values.length);
    t.writeView().asDoubleBuffer().put(values);
    return t;
  }

  /** A 1-D int32 tensor. */
  public static Tensor of(BufferAllocator allocator, int[] values) {
    return of(allocator, values, Shape.of(values.length));
  }

  /** An int32 tensor of the given shape. */
  public static Tensor of(BufferAllocator allocator, int[] values, Shape shape) {
    Tensor t = filled(allocator, DType.INT32, shape, values.length);
    t.writeView().asIntBuffer().put(values);
    return t;
  }

  /** A 1-D int64 tensor. */
  public static Tensor of(BufferAllocator allocator, long[] values) {
    return of(allocator, values, Shape.of(values.length));
  }

  /** An int64 tensor of the given shape. */
  public static Tensor of(BufferAllocator allocator, long[] values, Shape shape) {
    Tensor t = filled(allocator, DType.INT64, shape, values.length);
    t.writeView().asLongBuffer().put(values);
    return t;
  }

  /**
   * A tensor of 16-bit elements: int16 values, or the bit patterns of float16 / bfloat16 values.
   */
  public static Tensor of(BufferAllocator allocator, DType dtype, short[] values, Shape shape) {
    if (dtype.byteWidth() != 2) {
      throw new IllegalArgumentException("short[] holds 2-byte elements, " + dtype + " is not");
    }
    Tensor t = filled(allocator, dtype, shape, values.length);
    t.writeView().asShortBuffer().put(values);
    return t;
  }

  /** A tensor of 1-byte elements (int8, uint8 or bool given as 0/1). */
  public static Tensor of(BufferAllocator allocator, DType dtype, byte[] values, Shape shape) {
    if (dtype.byteWidth() != 1) {
      throw new IllegalArgumentException("byte[] holds 1-byte elements, " + dtype + " is not");
    }
    return fromBytes(allocator, dtype, shape, values);
  }

  /** A bool tensor (one byte per element, 0 or 1). */
  public static Tensor of(BufferAllocator allocator, boolean[] values, Shape shape) {
    byte[] b = new byte[values.length];
    for (int i = 0; i < b.length; i++) {
      b[i] = values[i] ? (byte) 1 : 0;
    }
    return fromBytes(allocator, DType.BOOL, shape, b);
  }

  private static Tensor filled(BufferAllocator allocator, DType dtype, Shape shape, int count) {
    if (shape.numel() != count) {
      throw new IllegalArgumentException(
          count + " values do not fill shape " + shape + " (" + shape.numel() + " elements)");
    }
    checkArraySized(shape.byteSize(dtype));
    return allocateUninitialized(allocator, dtype, shape);
  }

  private ByteBuffer writeView() {
    return data.nioBuffer(0, checkArraySized(data.capacity())).order(ByteOrder.LITTLE_ENDIAN);
  }

  private static int checkArraySized(long bytes) {
    if (bytes > Integer.MAX_VALUE) {
      throw new IllegalArgumentException(
          bytes + " bytes exceed what a Java array copy handles; use the ArrowBuf directly");
    }
    return (int) bytes;
  }

  // ---------------------------------------------------------------- accessors

  /** The element type. */
  public DType dtype() {
    return dtype;
  }

  /** The shape. */
  public Shape shape() {
    return shape;
  }

  /** Number of elements. */
  public long numel() {
    return shape.numel();
  }

  /** Bytes of element data. */
  public long byteSize() {
    return data.capacity();
  }

  /** Size of dimension 0; the tensor must have rank at least 1. */
  public long rows() {
    return shape.dim(0);
  }

  /**
   * The buffer holding exactly this tensor's bytes, to read and write. It stays owned by the
   * tensor: retain its reference manager to keep it beyond {@link #close()}.
   *
   * @throws ReadOnlyTensorException if the tensor is read-only ({@link #isReadOnly()})
   */
  public ArrowBuf buffer() {
    checkOpen();
    if (readOnly) {
      throw new ReadOnlyTensorException(
          "tensor "
              + dtype
              + shape
              + " is read-only (its memory is shared, for example mapped from the object store):"
              + " read it through asReadOnlyByteBuffer() or the element reads, or copy() it to"
              + " write");
    }
    return data;
  }

  /** The buffer, read-only tensors included: for this package's readers only. */
  ArrowBuf data() {
    checkOpen();
    return data;
  }

  /** Whether this tensor refuses writes (see the class comment). */
  public boolean isReadOnly() {
    return readOnly;
  }

  /**
   * The address of this tensor's first byte, for native code that reads it (checksums, device
   * copies, encoders); valid until {@link #close()}. Through a read-only tensor it is only read.
   */
  public long memoryAddress() {
    checkOpen();
    return data.memoryAddress();
  }

  /**
   * {@code length} bytes from byte {@code offset} as a read-only little-endian view (no copy),
   * valid until {@link #close()}.
   */
  public ByteBuffer asReadOnlyByteBuffer(long offset, int length) {
    checkOpen();
    if (offset < 0 || length < 0 || offset > data.capacity() - length) {
      throw new IndexOutOfBoundsException(
          "bytes [" + offset + ", " + offset + " + " + length + ") of " + data.capacity());
    }
    return data.nioBuffer(offset, length).asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN);
  }

  /** The allocator this tensor's memory is accounted to. */
  public BufferAllocator allocator() {
    return data.getReferenceManager().getAllocator();
  }

  /** True once {@link #close()} ran. */
  public boolean isClosed() {
    return closed;
  }

  // ---------------------------------------------------------------- views

  /** Another tensor over the same memory (one more reference); close both. */
  public Tensor share() {
    checkOpen();
    return view(0, shape);
  }

  /**
   * A read-only tensor over the same memory (one more reference; see {@link #isReadOnly()}); close
   * both.
   */
  public Tensor readOnlyView() {
    checkOpen();
    data.getReferenceManager().retain();
    return new Tensor(dtype, shape, data.slice(0, data.capacity()), true);
  }

  /** A view of this tensor's memory from byte {@code offset}, read-only where this one is. */
  private Tensor view(long offset, Shape viewShape) {
    Tensor t = over(data, offset, dtype, viewShape);
    return readOnly ? new Tensor(t.dtype, t.shape, t.data, true) : t;
  }

  /** Rows {@code [start, end)} along dimension 0 as a tensor sharing this one's memory. */
  public Tensor sliceRows(long start, long end) {
    checkOpen();
    if (shape.rank() == 0) {
      throw new IllegalStateException("a rank-0 tensor has no rows to slice");
    }
    long rows = shape.dim(0);
    if (start < 0 || end < start || end > rows) {
      throw new IndexOutOfBoundsException(
          "rows [" + start + ", " + end + ") of a tensor with " + rows + " rows");
    }
    long rowBytes = shape.rowNumel() * dtype.byteWidth();
    return view(start * rowBytes, shape.withDim0(end - start));
  }

  /** This tensor's memory viewed with another shape of the same element count. */
  public Tensor reshape(Shape newShape) {
    checkOpen();
    if (newShape.numel() != shape.numel()) {
      throw new IllegalArgumentException("cannot reshape " + shape + " to " + newShape);
    }
    return view(0, newShape);
  }

  /** A copy of this tensor in memory from {@code allocator}; writable, read-only source or not. */
  public Tensor copy(BufferAllocator allocator) {
    checkOpen();
    Tensor t = allocateUninitialized(allocator, dtype, shape);
    t.data.setBytes(0, data, 0, data.capacity());
    return t;
  }

  // ---------------------------------------------------------------- bulk copies out

  /** All element bytes (little-endian). */
  public byte[] toByteArray() {
    checkOpen();
    byte[] out = new byte[checkArraySized(data.capacity())];
    MemoryUtil.copyFromMemory(data.memoryAddress(), out, 0, out.length);
    return out;
  }

  /** The elements of a float32 tensor. */
  public float[] toFloatArray() {
    float[] out = new float[arrayLength(DType.FLOAT32)];
    readView().asFloatBuffer().get(out);
    return out;
  }

  /** The elements of a float64 tensor. */
  public double[] toDoubleArray() {
    double[] out = new double[arrayLength(DType.FLOAT64)];
    readView().asDoubleBuffer().get(out);
    return out;
  }

  /** The elements of an int32 tensor. */
  public int[] toIntArray() {
    int[] out = new int[arrayLength(DType.INT32)];
    readView().asIntBuffer().get(out);
    return out;
  }

  /** The elements of an int64 tensor. */
  public long[] toLongArray() {
    long[] out = new long[arrayLength(DType.INT64)];
    readView().asLongBuffer().get(out);
    return out;
  }

  /** The elements of an int16 tensor, or the bit patterns of a float16 / bfloat16 one. */
  public short[] toShortArray() {
    checkOpen();
    if (dtype.byteWidth() != 2) {
      throw new IllegalStateException("toShortArray needs a 2-byte dtype, tensor is " + dtype);
    }
    short[] out = new short[checkArraySized(numel())];
    readView().asShortBuffer().get(out);
    return out;
  }

  /** The elements of a bool tensor. */
  public boolean[] toBooleanArray() {
    arrayLength(DType.BOOL);
    byte[] b = toByteArray();
    boolean[] out = new boolean[b.length];
    for (int i = 0; i < b.length; i++) {
      out[i] = b[i] != 0;
    }
    return out;
  }

  private int arrayLength(DType expected) {
    checkOpen();
    if (dtype != expected) {
      throw new IllegalStateException("tensor is " + dtype + ", not " + expected);
    }
    return checkArraySized(numel());
  }

  private ByteBuffer readView() {
    return data.nioBuffer(0, checkArraySized(data.capacity())).order(ByteOrder.LITTLE_ENDIAN);
  }

  // ---------------------------------------------------------------- element reads (tests,
  // debugging)

  /** Row-major flat position of a multi-dimensional index, bounds-checked. */
  public long flatIndex(long... index) {
    if (index.length != shape.rank()) {
      throw new IllegalArgumentException(
          "index of rank " + index.length + " for a tensor of shape " + shape);
    }
    long flat = 0;
    for (int i = 0; i < index.length; i++) {
      long d = shape.dim(i);
      if (index[i] < 0 || index[i] >= d) {
        throw new IndexOutOfBoundsException(
            "index " + index[i] + " of dimension " + i + " (size " + d + ") in " + shape);
      }
      flat = flat * d + index[i];
    }
    return flat;
  }

  /** The element at a multi-dimensional index, converted to double. */
  public double getDouble(long... index) {
    return getDoubleAt(flatIndex(index));
  }

  /** The element at a multi-dimensional index of an integer or bool tensor, as a long. */
  public long getLong(long... index) {
    return getLongAt(flatIndex(index));
  }

  /** The element at a flat row-major position, converted to double. */
  public double getDoubleAt(long flat) {
    checkElement(flat);
    long o = flat * dtype.byteWidth();
    return switch (dtype) {
      case FLOAT16 -> Half.float16ToFloat(data.getShort(o));
      case BFLOAT16 -> Half.bfloat16ToFloat(data.getShort(o));
      case FLOAT32 -> data.getFloat(o);
      case FLOAT64 -> data.getDouble(o);
      default -> getLongAt(flat);
    };
  }

  /** The element at a flat row-major position of an integer or bool tensor, as a long. */
  public long getLongAt(long flat) {
    checkElement(flat);
    long o = flat * dtype.byteWidth();
    return switch (dtype) {
      case BOOL, INT8 -> data.getByte(o);
      case UINT8 -> data.getByte(o) & 0xFFL;
      case INT16 -> data.getShort(o);
      case INT32 -> data.getInt(o);
      case INT64 -> data.getLong(o);
      default -> throw new IllegalStateException(dtype + " is not an integer dtype");
    };
  }

  private void checkElement(long flat) {
    checkOpen();
    if (flat < 0 || flat >= numel()) {
      throw new IndexOutOfBoundsException("element " + flat + " of a tensor of shape " + shape);
    }
  }

  // ---------------------------------------------------------------- comparisons (tests)

  /** True if dtype, shape and every byte are equal. */
  public boolean contentEquals(Tensor other) {
    return mismatch(other).isEmpty();
  }

  /**
   * Why this tensor differs from {@code other} (dtype, shape or the first differing element), or
   * empty if dtype, shape and all bytes are equal.
   */
  public Optional<String> mismatch(Tensor other) {
    checkOpen();
    other.checkOpen();
    if (dtype != other.dtype) {
      return Optional.of("dtype " + dtype + " != " + other.dtype);
    }
    if (!shape.equals(other.shape)) {
      return Optional.of("shape " + shape + " != " + other.shape);
    }
    long n = data.capacity();
    if (ByteFunctionHelpers.equal(data, 0, n, other.data, 0, n) == 1) {
      return Optional.empty();
    }
    int w = dtype.byteWidth();
    for (long i = 0; i < numel(); i++) {
      for (int b = 0; b < w; b++) {
        if (data.getByte(i * w + b) != other.data.getByte(i * w + b)) {
          return Optional.of(
              "element "
                  + i
                  + " differs: "
                  + getDoubleAt(i)
                  + " != "
                  + other.getDoubleAt(i)
                  + " (dtype "
                  + dtype
                  + ", shape "
                  + shape
                  + ")");
        }
      }
    }
    return Optional.empty();
  }

  /**
   * True if dtypes and shapes match and every element satisfies {@code |a - b| <= atol + rtol *
   * |b|} (NaNs equal each other).
   */
  public boolean allClose(Tensor other, double rtol, double atol) {
    if (dtype != other.dtype || !shape.equals(other.shape)) {
      return false;
    }
    for (long i = 0; i < numel(); i++) {
      double a = getDoubleAt(i);
      double b = other.getDoubleAt(i);
      if (Double.isNaN(a) && Double.isNaN(b)) {
        continue;
      }
      if (!(Math.abs(a - b) <= atol + rtol * Math.abs(b))) {
        return false;
      }
    }
    return true;
  }

  // ---------------------------------------------------------------- lifecycle

  /** Drops this tensor's reference to its memory; idempotent. */
  @Override
  public void close() {
    if (!closed) {
      closed = true;
      data.getReferenceManager().release();
    }
  }

  private void checkOpen() {
    if (closed) {
      throw new IllegalStateException("tensor " + dtype + shape + " is closed");
    }
  }

  @Override
  public String toString() {
    return "Tensor("
        + dtype
        + ", "
        + shape
        + (readOnly ? ", read-only" : "")
        + (closed ? ", closed)" : ")");
  }

  /** Memory of a direct ByteBuffer lent to Arrow; the ByteBuffer is kept reachable. */
  private static final class ByteBufferAllocation extends ForeignAllocation {
    @SuppressWarnings("unused")
    private final ByteBuffer owner;

    ByteBufferAllocation(ByteBuffer owner, long address, long size) {
      super(size, address);
      this.owner = owner;
    }

    @Override
    protected void release0() {
      // The ByteBuffer's memory is freed by its own cleaner once it is unreachable.
    }
  }
}
