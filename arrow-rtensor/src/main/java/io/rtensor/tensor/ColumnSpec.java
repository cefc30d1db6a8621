package io.rtensor.tensor;

import java.util.Objects;

/**
 * What one column of a shard holds: its name, dtype and the shape of one row. A {@code scalar}
 * column holds a rank-0 tensor (one row on the wire, {@code rowShape} is {@code []}).
 */
public record ColumnSpec(String name, DType dtype, Shape rowShape, boolean scalar) {
  public ColumnSpec {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(dtype, "dtype");
    Objects.requireNonNull(rowShape, "rowShape");
    if (scalar && rowShape.rank() != 0) {
      throw new IllegalArgumentException("a scalar column has row shape [], got " + rowShape);
    }
  }

  /** The spec of a tensor's column. */
  public static ColumnSpec of(String name, Tensor t) {
    return of(name, t.dtype(), t.shape());
  }

  /** The spec of the column of a tensor of {@code dtype} and {@code shape} (on any device). */
  public static ColumnSpec of(String name, DType dtype, Shape shape) {
    return shape.rank() == 0
        ? new ColumnSpec(name, dtype, Shape.scalar(), true)
        : new ColumnSpec(name, dtype, shape.rowShape(), false);
  }

  /** The full shape of this column's tensor for a batch of {@code rows} rows. */
  public Shape shape(long rows) {
    return scalar ? Shape.scalar() : Shape.ofRows(rows, rowShape);
  }
}
