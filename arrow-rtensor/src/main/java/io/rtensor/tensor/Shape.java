package io.rtensor.tensor;

import java.util.Arrays;

/**
 * An immutable tensor shape: rank 0 (a scalar) and zero-size dimensions are allowed; negative
 * dimensions and element counts that overflow a {@code long} are rejected.
 */
public final class Shape {
  private static final Shape SCALAR = new Shape(new long[0], 1);

  private final long[] dims;
  private final long numel;

  private Shape(long[] dims, long numel) {
    this.dims = dims;
    this.numel = numel;
  }

  /**
   * A shape with the given dimensions.
   *
   * @throws IllegalArgumentException if a dimension is negative or the element count overflows
   */
  public static Shape of(long... dims) {
    if (dims.length == 0) {
      return SCALAR;
    }
    long[] copy = dims.clone();
    long n = 1;
    for (int i = 0; i < copy.length; i++) {
      if (copy[i] < 0) {
        throw new IllegalArgumentException(
            "dimension " + i + " is negative (" + copy[i] + ") in shape " + Arrays.toString(copy));
      }
    }
    // Zero-size dimensions do not excuse the others: every sub-shape (a row, a slice) must be
    // countable too, so the product of the non-zero dimensions must fit a long.
    boolean empty = false;
    for (long d : copy) {
      if (d == 0) {
        empty = true;
        continue;
      }
      try {
        n = Math.multiplyExact(n, d);
      } catch (ArithmeticException e) {
        throw new IllegalArgumentException(
            "element count of shape " + Arrays.toString(copy) + " overflows a long", e);
      }
    }
    return new Shape(copy, empty ? 0 : n);
  }

  /** The rank-0 shape. */
  public static Shape scalar() {
    return SCALAR;
  }

  /** Number of dimensions. */
  public int rank() {
    return dims.length;
  }

  /** Size of dimension {@code i}. */
  public long dim(int i) {
    if (i < 0 || i >= dims.length) {
      throw new IndexOutOfBoundsException(
          "dimension " + i + " of a rank-" + dims.length + " shape");
    }
    return dims[i];
  }

  /** A copy of the dimensions. */
  public long[] dims() {
    return dims.clone();
  }

  /** Product of the dimensions (1 for rank 0). */
  public long numel() {
    return numel;
  }

  /**
   * Bytes a contiguous tensor of this shape and {@code dtype} occupies.
   *
   * @throws IllegalArgumentException if the byte count overflows a long
   */
  public long byteSize(DType dtype) {
    try {
      return Math.multiplyExact(numel, (long) dtype.byteWidth());
    } catch (ArithmeticException e) {
      throw new IllegalArgumentException("byte size of " + this + " x " + dtype + " overflows", e);
    }
  }

  /** The shape without dimension 0 (the shape of one row); rank must be at least 1. */
  public Shape rowShape() {
    requireRank1("rowShape");
    return Shape.of(Arrays.copyOfRange(dims, 1, dims.length));
  }

  /** Elements in one row (product of dimensions 1..); rank must be at least 1. */
  public long rowNumel() {
    requireRank1("rowNumel");
    long n = 1;
    for (int i = 1; i < dims.length; i++) {
      n *= dims[i]; // cannot overflow: Shape.of checked the product of the non-zero dims
    }
    return n;
  }

  /** This shape with dimension 0 replaced; rank must be at least 1. */
  public Shape withDim0(long rows) {
    requireRank1("withDim0");
    long[] d = dims.clone();
    d[0] = rows;
    return Shape.of(d);
  }

  /** A shape of {@code rows} rows, each of {@code rowShape}. */
  public static Shape ofRows(long rows, Shape rowShape) {
    long[] d = new long[rowShape.rank() + 1];
    d[0] = rows;
    System.arraycopy(rowShape.dims, 0, d, 1, rowShape.rank());
    return Shape.of(d);
  }

  private void requireRank1(String op) {
    if (dims.length == 0) {
      throw new IllegalStateException(op + " needs rank >= 1, shape is []");
    }
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Shape s && Arrays.equals(dims, s.dims);
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(dims);
  }

  @Override
  public String toString() {
    return Arrays.toString(dims);
  }
}
