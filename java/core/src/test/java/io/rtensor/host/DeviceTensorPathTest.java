package io.rtensor.host;

import static io.rtensor.testing.engines.DeviceTensorEngine.COPIED_D2H;
import static io.rtensor.testing.engines.DeviceTensorEngine.COPIED_D2H_INTO_PAGEABLE;
import static io.rtensor.testing.engines.DeviceTensorEngine.COPIED_H2D;
import static io.rtensor.testing.engines.DeviceTensorEngine.COPIED_H2D_FROM_PAGEABLE;
import static io.rtensor.testing.engines.DeviceTensorEngine.COPIED_H2H;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rtensor.device.Device;
import io.rtensor.device.DeviceException;
import io.rtensor.device.DeviceMemory;
import io.rtensor.device.DeviceRuntimes;
import io.rtensor.device.HostMemory;
import io.rtensor.device.RuntimeKind;
import io.rtensor.device.arrow.PinnedAllocators;
import io.rtensor.device.arrow.PinnedBufferAllocator;
import io.rtensor.device.internal.DeviceOps;
import io.rtensor.handle.RTensor;
import io.rtensor.runtime.SessionSecret;
import io.rtensor.tensor.DType;
import io.rtensor.tensor.DeviceTensor;
import io.rtensor.tensor.Shape;
import io.rtensor.tensor.Tensor;
import io.rtensor.tensor.TensorBatch;
import io.rtensor.testing.engines.DeviceTensorEngine;
import io.rtensor.transport.DataPlaneDeadlines;
import io.rtensor.transport.WorkerDataPlane;
import java.io.IOException;
import java.util.List;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.memory.rounding.SegmentRoundingPolicy;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Device tensors on the RTensor path over the Flight plane, on the fake CUDA runtime: a rollout
 * worker on device 0 returns a device tensor, a trainer worker on device 1 takes it as a {@link
 * DeviceTensor} parameter. Each worker is what {@code LocalWorkerMain} builds for a worker with a
 * device (a page-locked root allocator, a store and fetch cache in it, an engine host on its
 * device), in this JVM so the fake's copy counters see both. Every test ends with no device memory,
 * page-locked memory or Arrow memory left.
 */
class DeviceTensorPathTest {
  private static final String SECRET = SessionSecret.generate().value();
  private static final int CUDA = DeviceOps.BACKEND_CUDA;

  private static final int LIVE_DEVICE = 0;
  private static final int LIVE_PINNED = 1;

  /** 12 MiB: two chunks of the copier's 8 MiB, so the copies are pipelined. */
  private static final long ROWS = 768;

  private static final long COLS = 4096;
  private static final long BYTES = ROWS * COLS * 4;

  private long deviceBytesBefore;
  private long pinnedBytesBefore;
  private long deviceLeasesBefore;
  private Worker rollout;
  private Worker trainer;

  /** One worker with a device: its page-locked memory, data plane and engine host. */
  private record Worker(PinnedBufferAllocator memory, WorkerDataPlane data, EngineHost host)
      implements AutoCloseable {
    static Worker start(String id, int ordinal) throws IOException {
      Device device = DeviceRuntimes.get(RuntimeKind.CUDA).device(ordinal);
      PinnedBufferAllocator memory =
          PinnedAllocators.create(device, 512L << 20, new SegmentRoundingPolicy(4096));
      WorkerDataPlane data =
          WorkerDataPlane.flight(
              memory,
              SECRET,
              null,
              "127.0.0.1",
              128L << 20,
              128L << 20,
              DataPlaneDeadlines.DEFAULT);
      EngineHost host =
          new EngineHost(
              id,
              data.transport(),
              DeviceTensorPathTest.class.getClassLoader(),
              List.of(ordinal),
              device);
      CallResult created = host.createEngine(DeviceTensorEngine.class.getName(), null, null);
      assertTrue(created.ok(), created.toString());
      return new Worker(memory, data, host);
    }

    Object call(String method, Object... args) {
      CallResult r = host.call(null, method, args);
      assertTrue(r.ok(), r.toString());
      return r.value();
    }

    @Override
    public void close() {
      host.close();
      data.close();
      memory.close(); // throws on a leaked Arrow buffer
    }
  }

  @BeforeEach
  void startWorkers() throws IOException {
    assertTrue(
        DeviceRuntimes.get(RuntimeKind.CUDA).deviceCount() >= 2,
        "the fake CUDA runtime shows two devices");
    assertTrue(DeviceOps.fake_copied_bytes(CUDA, COPIED_D2H) >= 0, "CUDA is the fake runtime");
    deviceBytesBefore = DeviceOps.fake_live_bytes(CUDA, LIVE_DEVICE);
    pinnedBytesBefore = DeviceOps.fake_live_bytes(CUDA, LIVE_PINNED);
    deviceLeasesBefore = DeviceMemory.liveCount();
    rollout = Worker.start("rollout/0", 0);
    trainer = Worker.start("trainer/0", 1);
  }

  @AfterEach
  void nothingLeft() {
    try {
      trainer.close();
    } finally {
      rollout.close();
    }
    assertEquals(List.of(), DeviceMemory.openReferences(), "device tensors left open");
    assertEquals(deviceLeasesBefore, DeviceMemory.liveCount(), "device memory not released");
    assertEquals(deviceBytesBefore, DeviceOps.fake_live_bytes(CUDA, LIVE_DEVICE), "device bytes");
    assertEquals(pinnedBytesBefore, DeviceOps.fake_live_bytes(CUDA, LIVE_PINNED), "pinned bytes");
  }

  private static long[] copied() {
    long[] c = new long[6];
    for (int i = 0; i < c.length; i++) {
      c[i] = DeviceOps.fake_copied_bytes(CUDA, i);
    }
    return c;
  }

  private static long delta(long[] before, long[] after, int counter) {
    return after[counter] - before[counter];
  }

  @Test
  void aDeviceTensorReachesAnotherWorkersDeviceWithOneDmaEachWay() {
    rollout.call("prepare", 0, ROWS, COLS, 3);
    long[] before = copied();

    RTensor handle = assertInstanceOf(RTensor.class, rollout.call("produceOne"));
    assertEquals(RTensor.Kind.TENSOR, handle.kind());
    assertEquals(DType.FLOAT32, handle.dtype());
    assertEquals(Shape.of(ROWS, COLS), handle.shape());
    assertEquals(BYTES, handle.byteSize());
    assertEquals(1, rollout.data().plane().stats(handle.location().key()).entries());

    assertEquals(1, trainer.call("consume", handle), "received on the trainer's device 1");

    long[] after = copied();
    assertEquals(BYTES, delta(before, after, COPIED_D2H), "one device-to-host DMA");
    assertEquals(BYTES, delta(before, after, COPIED_H2D), "one host-to-device DMA");
    assertEquals(0, delta(before, after, COPIED_H2H), "no staging copy on the host");
    assertEquals(0, delta(before, after, COPIED_D2H_INTO_PAGEABLE), "stored in page-locked memory");
    assertEquals(0, delta(before, after, COPIED_H2D_FROM_PAGEABLE), "fetched into page-locked");
    assertTrue(
        rollout.memory().pool().stats().bytesInUse() >= BYTES,
        "the stored shard is in the rollout worker's page-locked pool");
    TensorBatch cached = trainer.data().transport().cache().peek(handle.shardId());
    assertTrue(
        HostMemory.of(cached.tensor(RTensor.TENSOR_COLUMN).buffer()).pinned(),
        "the fetched shard is page-locked");
    assertEquals("float32[768, 4096]", trainer.call("receivedSpec", 0));
    assertArrayEquals(
        DeviceTensorEngine.patternBytes(ROWS, COLS, 3), (byte[]) trainer.call("receivedBytes", 0));

    // Clear: the store and the trainer's cache give back their memory.
    rollout.data().plane().clear(List.of(handle));
    trainer.host().evict(List.of(handle.shardId()));
    assertEquals(0, rollout.data().plane().stats(handle.location().key()).entries());
    assertEquals(0, trainer.data().transport().cache().stats().bytes());
    trainer.host().destroyAll();
    assertEquals(List.of(), DeviceMemory.openReferences(), "device tensors left after clear");
  }

  @Test
  void aTensorKeptOnDeviceIsCopiedToTheHostOnlyWhenFirstFetched() {
    rollout.call("prepare", 0, ROWS, COLS, 4);
    long rolloutDeviceBytes = DeviceOps.fake_live_bytes(CUDA, LIVE_DEVICE);
    long[] before = copied();

    RTensor handle = assertInstanceOf(RTensor.class, rollout.call("produceKept"));
    assertEquals(RTensor.Kind.TENSOR, handle.kind());
    assertEquals(Shape.of(ROWS, COLS), handle.shape());
    assertTrue(handle.deviceIpc() != null, "a CUDA tensor's handle names its device memory");
    assertFalse(handle.toString().contains("ipc"), handle.toString());
    assertFalse(handle.toJson().contains("device"), "the IPC handle never goes into JSON");
    String location = handle.location().key();
    assertEquals(1, rollout.data().plane().stats(location).entries());
    assertEquals(0, rollout.data().plane().stats(location).bytes(), "nothing on the host yet");
    assertEquals(0, delta(before, copied(), COPIED_D2H), "no device-to-host copy at the return");
    assertEquals(
        rolloutDeviceBytes,
        DeviceOps.fake_live_bytes(CUDA, LIVE_DEVICE),
        "the tensor stays in the rollout's device memory");

    // In this one process the IPC handle is not opened (the exporter's own process): the trainer
    // fetches the shard, which the rollout's store writes with one DMA at this first fetch.
    assertEquals(1, trainer.call("consume", handle));
    long[] after = copied();
    assertEquals(BYTES, delta(before, after, COPIED_D2H), "one device-to-host DMA, at the fetch");
    assertEquals(0, delta(before, after, COPIED_D2H_INTO_PAGEABLE), "into page-locked memory");
    assertEquals(BYTES, delta(before, after, COPIED_H2D), "one host-to-device DMA");
    assertTrue(rollout.data().plane().stats(location).bytes() > BYTES, "now written");
    assertArrayEquals(
        DeviceTensorEngine.patternBytes(ROWS, COLS, 4), (byte[]) trainer.call("receivedBytes", 0));

    // A second reader shares the written shard: no second copy.
    long[] beforeSecondRead = copied();
    try (BufferAllocator allocator = new RootAllocator()) {
      io.rtensor.transport.Remotizer reader =
          new io.rtensor.transport.Remotizer(trainer.data().plane(), null, allocator);
      try (Tensor t = assertInstanceOf(Tensor.class, reader.localize(handle))) {
        assertArrayEquals(DeviceTensorEngine.patternBytes(ROWS, COLS, 4), t.toByteArray());
      }
    }
    assertEquals(0, delta(beforeSecondRead, copied(), COPIED_D2H), "written once");

    // The clear gives back the device memory the store kept.
    assertEquals(1, rollout.data().plane().clear(List.of(handle)).get(location).cleared());
    trainer.host().evict(List.of(handle.shardId()));
    trainer.host().destroyAll();
    assertEquals(
        rolloutDeviceBytes - BYTES,
        DeviceOps.fake_live_bytes(CUDA, LIVE_DEVICE),
        "the kept tensor's device memory is freed by the clear");
  }

  @Test
  void aKeptTensorWhoseCopyFailsAtTheFetchIsTypedAndStaysFetchable() {
    rollout.call("prepare", 0, ROWS, COLS, 6);
    RTensor handle = assertInstanceOf(RTensor.class, rollout.call("produceKept"));
    String location = handle.location().key();
    assertEquals(0, DeviceOps.fake_inject_error(CUDA, "cuMemcpyDtoHAsync_v2", 700, 1));
    CallResult failed = trainer.host().call(null, "consume", new Object[] {handle});
    assertFalse(failed.ok());
    assertTrue(failed.errorMessage().contains("CUDA_ERROR_ILLEGAL_ADDRESS"), failed.toString());
    assertEquals(1, rollout.data().plane().stats(location).entries(), "the shard is kept");
    assertEquals(0, rollout.data().plane().stats(location).bytes(), "and not half written");

    assertEquals(1, trainer.call("consume", handle), "the next fetch writes it");
    assertArrayEquals(
        DeviceTensorEngine.patternBytes(ROWS, COLS, 6), (byte[]) trainer.call("receivedBytes", 0));
    rollout.data().plane().clear(List.of(handle));
    trainer.host().evict(List.of(handle.shardId()));
  }

  @Test
  void deviceTensorsNestedInAResultAreStoredAsTensorShards() {
    rollout.call("prepare", 0, 2L, 3L, 1);
    rollout.call("prepare", 0, 4L, 5L, 2);
    List<?> handles = assertInstanceOf(List.class, rollout.call("produce"));
    assertEquals(2, handles.size());
    for (int i = 0; i < 2; i++) {
      RTensor h = assertInstanceOf(RTensor.class, handles.get(i));
      assertEquals(1, trainer.call("consume", h));
    }
    assertArrayEquals(
        DeviceTensorEngine.patternBytes(2, 3, 1), (byte[]) trainer.call("receivedBytes", 0));
    assertArrayEquals(
        DeviceTensorEngine.patternBytes(4, 5, 2), (byte[]) trainer.call("receivedBytes", 1));
    // A host worker's localize gives the same bytes as a host tensor.
    try (BufferAllocator allocator = new RootAllocator()) {
      io.rtensor.transport.Remotizer reader =
          new io.rtensor.transport.Remotizer(trainer.data().plane(), null, allocator);
      Object local = reader.localize(handles.get(1));
      try (Tensor t = assertInstanceOf(Tensor.class, local)) {
        assertArrayEquals(DeviceTensorEngine.patternBytes(4, 5, 2), t.toByteArray());
      }
    }
    rollout.data().plane().clear(handles.stream().map(RTensor.class::cast).toList());
  }

  @Test
  void aDeviceCopyFailingMidwayIsTypedAndLosesNothingStored() {
    // Stored before: a host batch and a device tensor.
    RTensor hostShard;
    try (BufferAllocator allocator = new RootAllocator();
        TensorBatch batch =
            TensorBatch.of("ids", Tensor.of(allocator, new long[] {4, 5, 6}, Shape.of(3)))) {
      hostShard = rollout.data().plane().put(batch);
    }
    rollout.call("prepare", 0, ROWS, COLS, 7);
    RTensor kept = assertInstanceOf(RTensor.class, rollout.call("produceOne"));
    String location = kept.location().key();
    long storedBytes = rollout.data().plane().stats(location).bytes();
    long pinnedInUse = rollout.memory().getAllocatedMemory();

    // Two more tensors returned together; the second's second chunk fails (the device is lost).
    rollout.call("prepare", 0, ROWS, COLS, 8);
    rollout.call("prepare", 0, ROWS, COLS, 9);
    assertEquals(0, DeviceOps.fake_inject_error(CUDA, "cuMemcpyDtoHAsync_v2", 700, 3));
    CallResult failed = rollout.host().call(null, "produce", new Object[0]);
    assertFalse(failed.ok());
    assertEquals(DeviceException.class.getName(), failed.errorClass(), failed.toString());
    assertTrue(failed.errorMessage().contains("CUDA_ERROR_ILLEGAL_ADDRESS"), failed.toString());

    // The first of the two was stored and is cleared again; what was stored before stays.
    assertEquals(2, rollout.data().plane().stats(location).entries());
    assertEquals(storedBytes, rollout.data().plane().stats(location).bytes());
    assertEquals(pinnedInUse, rollout.memory().getAllocatedMemory(), "the failed shard is freed");
    assertEquals(1, trainer.call("consume", kept));
    assertArrayEquals(
        DeviceTensorEngine.patternBytes(ROWS, COLS, 7), (byte[]) trainer.call("receivedBytes", 0));

    // The same failure straight from the transport is a DeviceException with the runtime's code.
    DeviceTensor direct;
    try (BufferAllocator allocator = new RootAllocator();
        Tensor host =
            Tensor.fromBytes(
                allocator, DType.FLOAT32, Shape.of(ROWS, COLS), new byte[(int) BYTES])) {
      direct = DeviceTensor.copyOf(rollout.host().device(), host);
    }
    assertEquals(0, DeviceOps.fake_inject_error(CUDA, "cuMemcpyDtoHAsync_v2", 700, 1));
    DeviceException e =
        assertThrows(DeviceException.class, () -> rollout.data().transport().remotize(direct));
    assertEquals(700, e.code());
    assertTrue(direct.isClosed(), "a returned tensor is handed over even when storing it fails");
    assertEquals(2, rollout.data().plane().stats(location).entries());

    rollout.data().plane().clear(List.of(hostShard, kept));
    trainer.host().evict(List.of(kept.shardId()));
    assertEquals(0, rollout.data().plane().stats(location).entries());
  }
}
