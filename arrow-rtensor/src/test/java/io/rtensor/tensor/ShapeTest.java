package io.rtensor.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class ShapeTest {
  @Test
  void rankZeroHasOneElement() {
    Shape s = Shape.of();
    assertEquals(0, s.rank());
    assertEquals(1, s.numel());
    assertEquals(Shape.scalar(), s);
    assertEquals("[]", s.toString());
  }

  @Test
  void zeroSizeDimensionsAreAllowed() {
    Shape s = Shape.of(3, 0, 5);
    assertEquals(0, s.numel());
    assertEquals(0, s.byteSize(DType.FLOAT64));
    assertEquals(Shape.of(0, 5), s.rowShape());
    assertEquals(0, s.rowNumel());
  }

  @Test
  void negativeDimensionIsRejectedWithItsIndex() {
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> Shape.of(2, -1));
    assertTrue(e.getMessage().contains("dimension 1 is negative"), e.getMessage());
  }

  @Test
  void elementCountOverflowIsRejectedEvenBesideAZero() {
    assertThrows(IllegalArgumentException.class, () -> Shape.of(1L << 32, 1L << 32));
    assertThrows(IllegalArgumentException.class, () -> Shape.of(0, 1L << 32, 1L << 32));
    assertThrows(IllegalArgumentException.class, () -> Shape.of(1L << 62).byteSize(DType.INT64));
  }

  @Test
  void isImmutable() {
    long[] dims = {2, 3};
    Shape s = Shape.of(dims);
    dims[0] = 7;
    s.dims()[1] = 9;
    assertEquals(Shape.of(2, 3), s);
    assertNotEquals(Shape.of(3, 2), s);
    assertEquals(Shape.of(2, 3).hashCode(), s.hashCode());
  }

  @Test
  void rowHelpersWorkOnDimensionZero() {
    Shape s = Shape.of(4, 2, 3);
    assertEquals(6, s.rowNumel());
    assertEquals(Shape.of(9, 2, 3), s.withDim0(9));
    assertEquals(s, Shape.ofRows(4, Shape.of(2, 3)));
    assertThrows(IllegalStateException.class, () -> Shape.scalar().rowShape());
  }
}
