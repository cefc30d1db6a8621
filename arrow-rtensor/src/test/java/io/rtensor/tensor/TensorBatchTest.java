package io.rtensor.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.complex.FixedSizeListVector;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class TensorBatchTest {
  private BufferAllocator allocator;

  @BeforeEach
  void open() {
    allocator = new RootAllocator();
  }

  @AfterEach
  void close() {
    allocator.close();
  }

  /** ids [n] int64 = 0..n-1, x [n, 2] float32 = row*10 + col. */
  private TensorBatch batch(int n) {
    long[] ids = new long[n];
    float[] x = new float[2 * n];
    for (int i = 0; i < n; i++) {
      ids[i] = i;
      x[2 * i] = i * 10;
      x[2 * i + 1] = i * 10 + 1;
    }
    Map<String, Tensor> m = new LinkedHashMap<>();
    m.put("ids", Tensor.of(allocator, ids));
    m.put("x", Tensor.of(allocator, x, Shape.of(n, 2)));
    return TensorBatch.of(m);
  }

  @Test
  void differingDimensionZeroIsRejectedAndTheTensorsStayTheCallers() {
    try (Tensor a = Tensor.of(allocator, new float[3]);
        Tensor b = Tensor.of(allocator, new float[4])) {
      Map<String, Tensor> m = new LinkedHashMap<>();
      m.put("a", a);
      m.put("b", b);
      IllegalArgumentException e =
          assertThrows(IllegalArgumentException.class, () -> TensorBatch.of(m));
      assertTrue(e.getMessage().contains("'a' has 3 rows, 'b' has shape [4]"), e.getMessage());
      assertTrue(!a.isClosed() && !b.isClosed());
    }
  }

  @Test
  void rankZeroTensorsCannotMixWithRows() {
    try (Tensor s = Tensor.of(allocator, new float[] {1}, Shape.scalar());
        Tensor v = Tensor.of(allocator, new float[] {1})) {
      Map<String, Tensor> m = new LinkedHashMap<>();
      m.put("s", s);
      m.put("v", v);
      assertThrows(IllegalArgumentException.class, () -> TensorBatch.of(m));
    }
    try (TensorBatch scalars =
        TensorBatch.of("loss", Tensor.of(allocator, new float[] {0.5f}, Shape.scalar()))) {
      assertEquals(1, scalars.rows());
      assertThrows(IllegalStateException.class, () -> scalars.slice(0, 1));
    }
  }

  @Test
  void sliceAndSplitShareMemoryAndOutliveTheBatch() {
    TensorBatch b = batch(10);
    long before = allocator.getAllocatedMemory();
    List<TensorBatch> parts = b.split(3);
    try (TensorBatch middle = b.slice(4, 6)) {
      assertEquals(before, allocator.getAllocatedMemory(), "slicing allocated memory");
      assertEquals(List.of(4L, 3L, 3L), parts.stream().map(TensorBatch::rows).toList());
      b.close();
      assertEquals(before, allocator.getAllocatedMemory(), "slices keep the memory alive");
      assertArrayEquals(new long[] {4, 5}, middle.tensor("ids").toLongArray());
      assertArrayEquals(new float[] {40, 41, 50, 51}, middle.tensor("x").toFloatArray());
      assertArrayEquals(new long[] {7, 8, 9}, parts.get(2).tensor("ids").toLongArray());
    }
    parts.forEach(TensorBatch::close);
    assertEquals(0, allocator.getAllocatedMemory());
  }

  @Test
  void splitBySizesFollowsTheSizesAndChecksTheirSum() {
    try (TensorBatch b = batch(5)) {
      List<TensorBatch> parts = b.splitBySizes(0, 2, 3);
      assertEquals(List.of(0L, 2L, 3L), parts.stream().map(TensorBatch::rows).toList());
      assertArrayEquals(new long[] {2, 3, 4}, parts.get(2).tensor("ids").toLongArray());
      parts.forEach(TensorBatch::close);
      assertThrows(IllegalArgumentException.class, () -> b.splitBySizes(2, 2));
      assertThrows(IllegalArgumentException.class, () -> b.split(0));
    }
  }

  @Test
  void concatUndoesSplitWithOneCopy() {
    try (TensorBatch b = batch(7)) {
      List<TensorBatch> parts = b.split(3);
      try (TensorBatch joined = TensorBatch.concat(allocator, parts)) {
        assertEquals(7, joined.rows());
        for (String n : b.names()) {
          assertEquals(java.util.Optional.empty(), b.tensor(n).mismatch(joined.tensor(n)));
        }
      } finally {
        parts.forEach(TensorBatch::close);
      }
    }
  }

  @Test
  void concatRejectsDifferentColumns() {
    try (TensorBatch a = batch(2);
        TensorBatch b = TensorBatch.of("ids", Tensor.of(allocator, new long[] {1}))) {
      assertThrows(
          IllegalArgumentException.class, () -> TensorBatch.concat(allocator, List.of(a, b)));
    }
  }

  @Test
  void vectorSchemaRootRoundTripSharesTensorBytes() {
    try (TensorBatch b = batch(4)) {
      try (VectorSchemaRoot root = b.toVectorSchemaRoot(allocator)) {
        assertEquals(4, root.getRowCount());
        FixedSizeListVector x = (FixedSizeListVector) root.getVector("x");
        assertEquals(
            "arrow.fixed_shape_tensor", x.getField().getMetadata().get("ARROW:extension:name"));
        assertEquals("{\"shape\":[2]}", x.getField().getMetadata().get("ARROW:extension:metadata"));
        assertEquals(
            b.tensor("x").buffer().memoryAddress(),
            x.getDataVector().getDataBuffer().memoryAddress(),
            "the vector should use the tensor's memory");
        try (TensorBatch back = TensorBatch.fromVectorSchemaRoot(root)) {
          root.close();
          assertArrayEquals(b.tensor("x").toFloatArray(), back.tensor("x").toFloatArray());
          assertArrayEquals(b.tensor("ids").toLongArray(), back.tensor("ids").toLongArray());
        }
      }
    }
  }

  @Test
  void fieldsDescribeEveryLayout() {
    ColumnSpec bf = new ColumnSpec("h", DType.BFLOAT16, Shape.of(2, 3), false);
    var f = TensorFields.field(bf);
    assertEquals("bfloat16", f.getMetadata().get(TensorFields.DTYPE_KEY));
    assertEquals("{\"shape\":[2,3]}", f.getMetadata().get(TensorFields.EXTENSION_METADATA_KEY));
    assertEquals(
        bf,
        TensorFields.parse("h", f.getType(), f.getChildren().get(0).getType(), f.getMetadata()));
    ColumnSpec scalar = new ColumnSpec("s", DType.BOOL, Shape.scalar(), true);
    var g = TensorFields.field(scalar);
    assertEquals("[]", g.getMetadata().get(TensorFields.SHAPE_KEY));
    assertEquals(scalar, TensorFields.parse("s", g.getType(), null, g.getMetadata()));
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                TensorFields.parse(
                    "p",
                    f.getType(),
                    f.getChildren().get(0).getType(),
                    Map.of(
                        TensorFields.DTYPE_KEY, "bfloat16",
                        TensorFields.EXTENSION_NAME_KEY, TensorFields.FIXED_SHAPE_TENSOR,
                        TensorFields.EXTENSION_METADATA_KEY,
                            "{\"shape\":[3,2],\"permutation\":[1,0]}")));
    assertTrue(e.getMessage().contains("permut"), e.getMessage());
  }
}
