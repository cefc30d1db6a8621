package io.rtensor.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rtensor.device.Device;
import io.rtensor.device.DeviceMemory;
import io.rtensor.device.Dlpack;
import io.rtensor.device.DlpackException;
import java.util.List;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Device tensors and their DLPack exchange, run on every device backend: the CPU, and the fake CUDA
 * and Ascend runtimes, whose DLPack producer counts the calls of each tensor's deleter. Every test
 * ends with no device memory, host buffer or producer's tensor left behind and no deleter called
 * twice.
 */
abstract class DeviceTensorContract {
  private BufferAllocator allocator;
  private FakeProducer producer;
  private long producerLive;
  private long leases;

  abstract Device device();

  /** The fake runtime whose producer makes this device's DLPack tensors. */
  abstract io.rtensor.device.RuntimeKind producerKind();

  int dlpackDeviceType() {
    return Dlpack.deviceType(device().kind());
  }

  @BeforeEach
  void open() {
    allocator = new RootAllocator();
    producer = new FakeProducer(producerKind());
    device();
    producerLive = producer.count(FakeProducer.LIVE);
    leases = DeviceMemory.liveCount();
  }

  @AfterEach
  void nothingLeftBehind() {
    assertEquals(List.of(), DeviceMemory.openReferences(), "device tensors left open");
    assertEquals(leases, DeviceMemory.liveCount(), "device memory not released");
    assertEquals(producerLive, producer.count(FakeProducer.LIVE), "a producer's deleter never ran");
    assertEquals(0, producer.count(FakeProducer.REPEATED_DELETES), "a deleter ran twice");
    allocator.close();
  }

  /** A host tensor of {@code n} elements whose bytes are the producer's pattern. */
  private Tensor patterned(DType dtype, Shape shape, int seed) {
    byte[] bytes = new byte[(int) shape.byteSize(dtype)];
    for (int i = 0; i < bytes.length; i++) {
      bytes[i] = FakeProducer.pattern(i, seed);
    }
    if (dtype == DType.BOOL) {
      for (int i = 0; i < bytes.length; i++) {
        bytes[i] = (byte) (bytes[i] & 1);
      }
    }
    return Tensor.fromBytes(allocator, dtype, shape, bytes);
  }

  private long deleterCalls() {
    return producer.count(FakeProducer.DELETER_CALLS);
  }

  @ParameterizedTest
  @EnumSource(DType.class)
  void everyDtypeRoundTripsThroughDlpackWithoutACopy(DType dtype) {
    Shape shape = Shape.of(3, 5, 7);
    try (Tensor host = patterned(dtype, shape, dtype.ordinal())) {
      long address;
      long exported;
      try (DeviceTensor t = DeviceTensor.copyOf(device(), host)) {
        address = t.address();
        exported = t.toDlpack();
      }
      try (DeviceTensor back = DeviceTensor.fromDlpack(exported);
          Tensor copy = back.toHost(allocator)) {
        assertEquals(dtype, back.dtype());
        assertEquals(shape, back.shape());
        assertEquals(device(), back.device());
        assertEquals(address, back.address(), "the import reads the exported memory in place");
        assertTrue(host.contentEquals(copy), dtype + ": " + host.mismatch(copy).orElse(""));
      }
    }
  }

  @Test
  void dlpackTypeCodesAreTheSpecificationsOnes() {
    assertEquals(DType.BOOL, DeviceTensor.dtypeOf(6, 8));
    assertEquals(DType.UINT8, DeviceTensor.dtypeOf(1, 8));
    assertEquals(DType.INT8, DeviceTensor.dtypeOf(0, 8));
    assertEquals(DType.INT16, DeviceTensor.dtypeOf(0, 16));
    assertEquals(DType.INT32, DeviceTensor.dtypeOf(0, 32));
    assertEquals(DType.INT64, DeviceTensor.dtypeOf(0, 64));
    assertEquals(DType.FLOAT16, DeviceTensor.dtypeOf(2, 16));
    assertEquals(DType.BFLOAT16, DeviceTensor.dtypeOf(4, 16));
    assertEquals(DType.FLOAT32, DeviceTensor.dtypeOf(2, 32));
    assertEquals(DType.FLOAT64, DeviceTensor.dtypeOf(2, 64));
  }

  @Test
  void aProducersTensorIsReadInPlaceAndDeletedOnceAfterEveryViewCloses() {
    long managed =
        producer.make(dlpackDeviceType(), 0, Dlpack.KDL_INT, 32, 1, new long[] {4, 3}, null, 16, 5);
    long deletes = deleterCalls();
    DeviceTensor t = DeviceTensor.fromDlpack(managed);
    DeviceTensor rows = t.sliceRows(1, 3);
    DeviceTensor flat = t.reshape(Shape.of(12));
    DeviceTensor shared = t.share();
    t.close();
    try (Tensor host = rows.toHost(allocator)) {
      byte[] bytes = host.toByteArray();
      for (int i = 0; i < bytes.length; i++) {
        assertEquals(FakeProducer.pattern(12 + i, 5), bytes[i], "byte " + i + " of rows 1..3");
      }
    }
    assertEquals(Shape.of(2, 3), rows.shape());
    rows.close();
    flat.close();
    assertEquals(deletes, deleterCalls(), "one reference is still open");
    long exported = shared.toDlpack();
    shared.close();
    assertEquals(deletes, deleterCalls(), "the export holds the producer's tensor");
    Dlpack.delete(exported);
    assertEquals(deletes + 1, deleterCalls(), "deleted once, by the last reference");
    t.close();
    assertEquals(deletes + 1, deleterCalls());
  }

  @Test
  void dtypesRtensorDoesNotHaveAreGivenBackOnceWithATypedError() {
    long[] shape = {2, 2};
    int[][] types = {{5, 64}, {2, 8}, {1, 16}, {1, 32}, {4, 32}, {6, 16}, {3, 64}};
    long deletes = deleterCalls();
    for (int[] type : types) {
      long managed = producer.make(dlpackDeviceType(), 0, type[0], type[1], 1, shape, null, 0, 1);
      DlpackException e =
          assertThrows(DlpackException.class, () -> DeviceTensor.fromDlpack(managed));
      assertTrue(e.getMessage().contains("code " + type[0]), e.getMessage());
    }
    assertEquals(deletes + types.length, deleterCalls());
  }

  @Test
  void stridesThatAreNotRowMajorAreRefusedWithATypedError() {
    long deletes = deleterCalls();
    long transposed =
        producer.make(
            dlpackDeviceType(),
            0,
            Dlpack.KDL_FLOAT,
            32,
            1,
            new long[] {3, 4},
            new long[] {1, 3},
            0,
            1);
    DlpackException e =
        assertThrows(DlpackException.class, () -> DeviceTensor.fromDlpack(transposed));
    assertTrue(e.getMessage().contains("row-major"), e.getMessage());
    long everyOther =
        producer.make(
            dlpackDeviceType(), 0, Dlpack.KDL_FLOAT, 32, 1, new long[] {4}, new long[] {2}, 0, 1);
    assertThrows(DlpackException.class, () -> DeviceTensor.fromDlpack(everyOther));
    assertEquals(deletes + 2, deleterCalls());
    long rowMajor =
        producer.make(
            dlpackDeviceType(),
            0,
            Dlpack.KDL_FLOAT,
            32,
            1,
            new long[] {3, 4},
            new long[] {4, 1},
            0,
            1);
    try (DeviceTensor t = DeviceTensor.fromDlpack(rowMajor)) {
      assertEquals(Shape.of(3, 4), t.shape());
    }
    assertEquals(deletes + 3, deleterCalls());
  }

  @Test
  void scalarsAndEmptyTensorsCrossDlpack() {
    try (Tensor scalar = patterned(DType.FLOAT64, Shape.scalar(), 3);
        DeviceTensor t = DeviceTensor.copyOf(device(), scalar);
        DeviceTensor back = DeviceTensor.fromDlpack(t.toDlpack());
        Tensor host = back.toHost(allocator)) {
      assertEquals(Shape.scalar(), back.shape());
      assertTrue(scalar.contentEquals(host));
    }
    try (DeviceTensor empty = DeviceTensor.allocate(device(), DType.INT16, Shape.of(0, 3));
        DeviceTensor back = DeviceTensor.fromDlpack(empty.toDlpack());
        Tensor host = back.toHost(allocator)) {
      assertEquals(Shape.of(0, 3), back.shape());
      assertEquals(0, host.byteSize());
      assertThrows(IllegalStateException.class, back::buffer);
    }
    long deletes = deleterCalls();
    long producedEmpty =
        producer.make(dlpackDeviceType(), 0, Dlpack.KDL_UINT, 8, 1, new long[] {0}, null, 0, 1);
    try (DeviceTensor t = DeviceTensor.fromDlpack(producedEmpty)) {
      assertEquals(0, t.byteSize());
    }
    assertEquals(deletes + 1, deleterCalls());
  }

  @Test
  void aClosedTensorRefusesUseAndItsBufferRefusesCopies() {
    Shape shape = Shape.of(4);
    DeviceTensor t = DeviceTensor.allocate(device(), DType.INT32, shape);
    var buffer = t.buffer();
    t.close();
    assertThrows(IllegalStateException.class, t::toDlpack);
    assertThrows(IllegalStateException.class, t::buffer);
    assertThrows(IllegalStateException.class, t::share);
    assertThrows(IllegalStateException.class, () -> t.sliceRows(0, 1));
    try (Tensor host = Tensor.allocate(allocator, DType.INT32, shape)) {
      assertThrows(
          IllegalStateException.class,
          () -> device().copyToHost(buffer, 0, host.buffer(), 0, host.byteSize()));
    }
    t.close();
  }

  @Test
  void viewsCheckTheirBounds() {
    try (DeviceTensor t = DeviceTensor.allocate(device(), DType.FLOAT32, Shape.of(4, 2))) {
      assertThrows(IndexOutOfBoundsException.class, () -> t.sliceRows(3, 5));
      assertThrows(IllegalArgumentException.class, () -> t.reshape(Shape.of(9)));
      try (DeviceTensor last = t.sliceRows(3, 4)) {
        assertNotEquals(t.address(), last.address());
        assertEquals(t.address() + 3 * 2 * 4, last.address());
      }
    }
  }

  @Test
  void hostBytesSurviveTheDevice() {
    float[] values = new float[1001];
    for (int i = 0; i < values.length; i++) {
      values[i] = i * 0.25f - 7;
    }
    try (Tensor host = Tensor.of(allocator, values);
        DeviceTensor t = DeviceTensor.copyOf(device(), host);
        Tensor back = t.toHost(allocator)) {
      assertArrayEquals(values, back.toFloatArray());
    }
  }

  @Test
  void deviceCopiersCountTheBytesAndTimeOfEachDirection() {
    Shape shape = Shape.of(3, 1000);
    try (DeviceCopiers copiers = new DeviceCopiers();
        Tensor host = patterned(DType.FLOAT32, shape, 4)) {
      assertEquals(new DeviceCopiers.Totals(0, 0, 0), copiers.copiedToHost());
      assertEquals(new DeviceCopiers.Totals(0, 0, 0), copiers.copiedToDevice());
      try (DeviceTensor t = copiers.toDevice(host, device());
          Tensor back = Tensor.allocateUninitialized(allocator, DType.FLOAT32, shape)) {
        copiers.copyToHost(t, back.buffer(), 0);
        copiers.copyToHost(t, back.buffer(), 0);
        assertArrayEquals(host.toByteArray(), back.toByteArray());
      }
      DeviceCopiers.Totals toDevice = copiers.copiedToDevice();
      DeviceCopiers.Totals toHost = copiers.copiedToHost();
      assertEquals(1, toDevice.copies());
      assertEquals(12_000, toDevice.bytes());
      assertTrue(toDevice.nanos() > 0, toDevice.toString());
      assertEquals(2, toHost.copies());
      assertEquals(24_000, toHost.bytes());
      assertTrue(toHost.nanos() > 0, toHost.toString());
    }
  }
}
