package io.rtensor.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class TensorTest {
  private BufferAllocator allocator;

  @BeforeEach
  void open() {
    allocator = new RootAllocator();
  }

  @AfterEach
  void close() {
    allocator.close();
  }

  @Test
  void javaArraysRoundTrip() {
    try (Tensor f = Tensor.of(allocator, new float[] {1.5f, -2f, 3f, 4f}, Shape.of(2, 2));
        Tensor d = Tensor.of(allocator, new double[] {1e300, -0.5});
        Tensor i = Tensor.of(allocator, new int[] {7, -8, 9});
        Tensor l = Tensor.of(allocator, new long[] {Long.MIN_VALUE, 1});
        Tensor s = Tensor.of(allocator, DType.INT16, new short[] {-3, 300}, Shape.of(2));
        Tensor b = Tensor.of(allocator, new boolean[] {true, false, true}, Shape.of(3));
        Tensor u = Tensor.of(allocator, DType.UINT8, new byte[] {(byte) 200}, Shape.of(1))) {
      assertArrayEquals(new float[] {1.5f, -2f, 3f, 4f}, f.toFloatArray());
      assertEquals(-2f, f.getDouble(0, 1));
      assertEquals(16, f.byteSize());
      assertArrayEquals(new double[] {1e300, -0.5}, d.toDoubleArray());
      assertArrayEquals(new int[] {7, -8, 9}, i.toIntArray());
      assertArrayEquals(new long[] {Long.MIN_VALUE, 1}, l.toLongArray());
      assertArrayEquals(new short[] {-3, 300}, s.toShortArray());
      assertArrayEquals(new boolean[] {true, false, true}, b.toBooleanArray());
      assertEquals(200, u.getLong(0));
      assertEquals(-8, i.getLongAt(1));
    }
  }

  @Test
  void wrongLengthOrWrongDtypeIsRejected() {
    assertThrows(
        IllegalArgumentException.class, () -> Tensor.of(allocator, new float[3], Shape.of(2, 2)));
    try (Tensor f = Tensor.of(allocator, new float[] {1})) {
      assertThrows(IllegalStateException.class, f::toIntArray);
      assertThrows(IndexOutOfBoundsException.class, () -> f.getDouble(1));
    }
    assertEquals(0, allocator.getAllocatedMemory());
  }

  @Test
  void halfPrecisionElementsReadAsFloats() {
    short[] bits = {Half.floatToFloat16(0.5f), Half.floatToFloat16(-3f)};
    short[] bf = {Half.floatToBfloat16(2f), Half.floatToBfloat16(-0.25f)};
    try (Tensor h = Tensor.of(allocator, DType.FLOAT16, bits, Shape.of(2));
        Tensor b = Tensor.of(allocator, DType.BFLOAT16, bf, Shape.of(2))) {
      assertEquals(-3.0, h.getDouble(1));
      assertEquals(-0.25, b.getDouble(1));
    }
  }

  @Test
  void wrappingADirectByteBufferSharesItsMemory() {
    ByteBuffer direct = ByteBuffer.allocateDirect(16).order(ByteOrder.LITTLE_ENDIAN);
    direct.putInt(0, 11).putInt(12, 44);
    try (Tensor t = Tensor.wrap(allocator, direct, DType.INT32, Shape.of(4))) {
      assertEquals(44, t.getLong(3));
      direct.putInt(4, 22);
      assertEquals(22, t.getLong(1));
      assertEquals(16, allocator.getAllocatedMemory());
    }
    assertThrows(
        IllegalArgumentException.class,
        () -> Tensor.wrap(allocator, ByteBuffer.allocate(4), DType.INT32, Shape.of(1)));
  }

  @Test
  void copyOfAByteBufferIsIndependent() {
    ByteBuffer heap = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, 5);
    try (Tensor t = Tensor.copyOf(allocator, heap, DType.INT64, Shape.of(1))) {
      heap.putLong(0, 6);
      assertEquals(5, t.getLong(0));
    }
  }

  @Test
  void tensorOverABufferTakesItsOwnReference() {
    ArrowBuf buf = allocator.buffer(64);
    buf.setFloat(8, 2.5f);
    Tensor t = Tensor.over(buf, 8, DType.FLOAT32, Shape.of(2));
    assertEquals(2, buf.getReferenceManager().getRefCount());
    buf.close();
    assertEquals(2.5, t.getDouble(0));
    assertEquals(64, allocator.getAllocatedMemory());
    t.close();
    assertEquals(0, allocator.getAllocatedMemory());
    t.close(); // idempotent
    assertTrue(t.isClosed());
    assertThrows(IllegalStateException.class, t::toFloatArray);
  }

  @Test
  void tensorOverABufferMustFitIt() {
    try (ArrowBuf buf = allocator.buffer(8)) {
      assertThrows(
          IndexOutOfBoundsException.class, () -> Tensor.over(buf, 4, DType.INT64, Shape.of(1)));
      assertEquals(1, buf.getReferenceManager().getRefCount());
    }
  }

  @Test
  void sliceRowsSharesMemory() {
    try (Tensor t = Tensor.of(allocator, new int[] {0, 1, 2, 3, 4, 5}, Shape.of(3, 2))) {
      long before = allocator.getAllocatedMemory();
      try (Tensor rows = t.sliceRows(1, 3)) {
        assertEquals(before, allocator.getAllocatedMemory());
        assertEquals(Shape.of(2, 2), rows.shape());
        assertArrayEquals(new int[] {2, 3, 4, 5}, rows.toIntArray());
        t.buffer().setInt(8, 99);
        assertEquals(99, rows.getLong(0, 0));
      }
      assertThrows(IndexOutOfBoundsException.class, () -> t.sliceRows(2, 4));
    }
  }

  @Test
  void mismatchNamesTheFirstDifferingElement() {
    try (Tensor a = Tensor.of(allocator, new float[] {1, 2, 3});
        Tensor b = Tensor.of(allocator, new float[] {1, 2, 4});
        Tensor c = Tensor.of(allocator, new float[] {1, 2, 3});
        Tensor d = Tensor.of(allocator, new double[] {1, 2, 3})) {
      assertTrue(a.contentEquals(c));
      assertFalse(a.contentEquals(b));
      assertTrue(a.mismatch(b).orElseThrow().contains("element 2 differs: 3.0 != 4.0"));
      assertTrue(a.mismatch(d).orElseThrow().contains("dtype"));
      assertTrue(a.allClose(b, 0, 1.01));
      assertFalse(a.allClose(b, 0, 0.5));
    }
  }

  @Test
  void allocateIsZeroFilledAndAccounted() {
    try (Tensor t = Tensor.allocate(allocator, DType.FLOAT64, Shape.of(3, 0))) {
      assertEquals(0, t.byteSize());
    }
    try (Tensor t = Tensor.allocate(allocator, DType.INT32, Shape.of(5))) {
      assertArrayEquals(new int[5], t.toIntArray());
      assertTrue(allocator.getAllocatedMemory() >= 20);
    }
  }

  @Test
  void aReadOnlyViewAndEveryViewOfItRefuseWritesButReadAndCopy() {
    try (Tensor t = Tensor.of(allocator, new int[] {1, 2, 3, 4, 5, 6}, Shape.of(3, 2));
        Tensor ro = t.readOnlyView();
        Tensor rows = ro.sliceRows(1, 3);
        Tensor flat = ro.reshape(Shape.of(6));
        Tensor shared = ro.share();
        Tensor copy = ro.copy(allocator)) {
      assertFalse(t.isReadOnly());
      for (Tensor v : new Tensor[] {ro, rows, flat, shared}) {
        assertTrue(v.isReadOnly(), v.toString());
        ReadOnlyTensorException e = assertThrows(ReadOnlyTensorException.class, v::buffer);
        assertTrue(e.getMessage().contains("copy()"), e.getMessage());
      }
      assertTrue(ro.toString().contains("read-only"));
      assertArrayEquals(new int[] {3, 4, 5, 6}, rows.toIntArray());
      assertArrayEquals(new int[] {1, 2, 3, 4, 5, 6}, flat.toIntArray());
      assertEquals(t.memoryAddress(), ro.memoryAddress(), "a view, not a copy");
      ByteBuffer bytes = ro.asReadOnlyByteBuffer(4, 8);
      assertTrue(bytes.isReadOnly());
      assertEquals(2, bytes.getInt(0));
      assertThrows(java.nio.ReadOnlyBufferException.class, () -> bytes.putInt(0, 9));
      assertThrows(IndexOutOfBoundsException.class, () -> ro.asReadOnlyByteBuffer(20, 8));
      assertFalse(copy.isReadOnly());
      copy.buffer().setInt(0, 42);
      assertEquals(1, ro.getLongAt(0), "writing the copy leaves the shared memory alone");
      try (TensorBatch batch = TensorBatch.of("x", t.share());
          TensorBatch view = batch.readOnlyView()) {
        assertTrue(view.isReadOnly());
        assertFalse(batch.isReadOnly());
        assertThrows(ReadOnlyTensorException.class, () -> view.toVectorSchemaRoot(allocator));
        assertArrayEquals(
            io.rtensor.wire.ShardCodec.encode(batch), io.rtensor.wire.ShardCodec.encode(view));
      }
    }
    assertEquals(0, allocator.getAllocatedMemory(), "every view dropped its reference");
  }
}
