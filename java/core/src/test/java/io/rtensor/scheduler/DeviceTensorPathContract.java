package io.rtensor.scheduler;

import static io.rtensor.testing.engines.DeviceTensorEngine.COPIED_D2D;
import static io.rtensor.testing.engines.DeviceTensorEngine.COPIED_D2H;
import static io.rtensor.testing.engines.DeviceTensorEngine.COPIED_D2H_INTO_PAGEABLE;
import static io.rtensor.testing.engines.DeviceTensorEngine.COPIED_H2D;
import static io.rtensor.testing.engines.DeviceTensorEngine.COPIED_H2D_FROM_PAGEABLE;
import static io.rtensor.testing.engines.DeviceTensorEngine.COPIED_H2H;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rtensor.device.RuntimeKind;
import io.rtensor.handle.RTensor;
import io.rtensor.host.WorkerMemory;
import io.rtensor.tensor.DType;
import io.rtensor.tensor.Shape;
import io.rtensor.tensor.Tensor;
import io.rtensor.tensor.TensorBatch;
import io.rtensor.testing.engines.DeviceEngine;
import io.rtensor.testing.engines.DeviceTensorEngine;
import io.rtensor.transport.DataPlaneKind;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Device tensors between worker processes of a scheduler, on a fake device runtime (run by a
 * subclass per scheduler and runtime): a rollout worker on one device returns a device tensor, and
 * the controller hands its handle to a trainer worker on other devices, which receives it on its
 * device. The copies are counted by the fake runtime inside each worker process (the engine reports
 * its process's counters), and every test ends with nothing left after the shards are cleared: no
 * stored or cached shard, no Arrow (page-locked) memory in use, no device memory beyond what the
 * workers held before.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
public abstract class DeviceTensorPathContract {
  private static final CallOptions QUICK =
      CallOptions.DEFAULT.withTimeout(Duration.ofSeconds(120)).withMaxRetries(0);

  /** 12 MiB of float32: two chunks of the copier's 8 MiB, so the copies are pipelined. */
  private static final long ROWS = 768;

  private static final long COLS = 4096;
  private static final long BYTES = ROWS * COLS * 4;

  private static final String ROLLOUT = "rollout/0";
  private static final String TRAINER = "trainer/0";

  private final RuntimeKind runtime;
  private final Function<DeviceType, Scheduler> newScheduler;
  private final boolean stagedIntoStore;
  private Scheduler scheduler;

  /**
   * The contract on the fake {@code runtime} (CUDA or Ascend), with schedulers from {@code
   * newScheduler}, which offer at least 3 devices of the type they are given (GPU or NPU).
   */
  protected DeviceTensorPathContract(
      RuntimeKind runtime, Function<DeviceType, Scheduler> newScheduler) {
    this(runtime, newScheduler, false);
  }

  /**
   * As above; {@code stagedIntoStore}: the store's memory is pageable and the runtime cannot
   * page-lock it for the copy (Ray's object store on Ascend), so the device-to-host copy of a put
   * goes through the copier's page-locked staging slots, each byte copied once more on the host.
   */
  protected DeviceTensorPathContract(
      RuntimeKind runtime, Function<DeviceType, Scheduler> newScheduler, boolean stagedIntoStore) {
    this.runtime = runtime;
    this.newScheduler = newScheduler;
    this.stagedIntoStore = stagedIntoStore;
  }

  private RuntimeKind runtime() {
    return runtime;
  }

  private DeviceType deviceType() {
    return runtime == RuntimeKind.CUDA ? DeviceType.GPU : DeviceType.NPU;
  }

  /** Rollout: one device. Trainer: two devices, so a call can name its second. */
  @BeforeAll
  void startWorkers() {
    scheduler = newScheduler.apply(deviceType());
    for (String role : List.of("rollout", "trainer")) {
      scheduler.createWorkers(
          Job.builder(role)
              .task(
                  SchedulingSpec.builder()
                      .cpu(0.25)
                      .devices(role.equals("rollout") ? 1 : 2, deviceType())
                      .env(DeviceEngine.fakeRuntimeEnv(runtime(), 4))
                      .build())
              .build());
      scheduler.createEngine(role + "/0", DeviceTensorEngine.class.getName(), null);
    }
  }

  @AfterAll
  void closeScheduler() {
    if (scheduler != null) {
      scheduler.close();
    }
  }

  private Object call(String workerId, String method, Object... args) {
    return scheduler.callEngine(workerId, method, null, QUICK, args);
  }

  private long[] copied(String workerId) {
    return (long[]) call(workerId, "copiedBytes");
  }

  private static long delta(long[] before, long[] after, int counter) {
    return after[counter] - before[counter];
  }

  /** What each worker holds before a test: device bytes and page-locked Arrow bytes. */
  private record Held(
      long rolloutDevice, long trainerDevice, long rolloutArrow, long trainerArrow) {}

  private Held held() {
    return new Held(
        ((long[]) call(ROLLOUT, "liveBytes"))[0],
        ((long[]) call(TRAINER, "liveBytes"))[0],
        scheduler.workerMemory(ROLLOUT).arrowBytes(),
        scheduler.workerMemory(TRAINER).arrowBytes());
  }

  /** After {@code handles} are cleared and the trainer drops what it received: nothing left. */
  private void clearAndAssertNothingLeft(Held before, List<?> handles, int stored) {
    assertEquals(stored, scheduler.clearShards(handles), "shards removed from their stores");
    call(TRAINER, "releaseReceived");
    for (String worker : List.of(ROLLOUT, TRAINER)) {
      WorkerMemory m = scheduler.workerMemory(worker);
      assertEquals(0, m.storedShards(), m.toString());
      assertEquals(0, m.cachedShards(), m.toString());
      assertEquals(0, m.cachedBytes(), m.toString());
    }
    assertEquals(
        before,
        held(),
        "device memory and page-locked Arrow memory back to what the workers held before");
  }

  @Test
  void aDeviceTensorReachesATrainerOnAnotherDeviceWithOneDmaEachWay() {
    Held before = held();
    call(ROLLOUT, "prepareOnWorker", ROWS, COLS, 3);
    long[] rolloutBefore = copied(ROLLOUT);
    long[] trainerBefore = copied(TRAINER);
    WorkerMemory rolloutMemoryBefore = scheduler.workerMemory(ROLLOUT);
    WorkerMemory trainerMemoryBefore = scheduler.workerMemory(TRAINER);

    RTensor handle = assertInstanceOf(RTensor.class, call(ROLLOUT, "produceOne"));
    assertEquals(RTensor.Kind.TENSOR, handle.kind());
    assertEquals(DType.FLOAT32, handle.dtype());
    assertEquals(Shape.of(ROWS, COLS), handle.shape());
    assertEquals(1, scheduler.workerMemory(ROLLOUT).storedShards());
    assertEquals(0, call(TRAINER, "consume", handle), "received on the trainer's device 0");

    long[] rolloutAfter = copied(ROLLOUT);
    long[] trainerAfter = copied(TRAINER);
    assertEquals(BYTES, delta(rolloutBefore, rolloutAfter, COPIED_D2H), "one device-to-host DMA");
    assertEquals(
        stagedIntoStore ? BYTES : 0,
        delta(rolloutBefore, rolloutAfter, COPIED_H2H),
        stagedIntoStore ? "staged into the store once" : "no host staging on the rollout");
    assertEquals(
        0,
        delta(rolloutBefore, rolloutAfter, COPIED_D2H_INTO_PAGEABLE),
        "the DMA lands in page-locked or registered memory");
    assertEquals(BYTES, delta(trainerBefore, trainerAfter, COPIED_H2D), "one host-to-device DMA");
    assertEquals(
        0, delta(trainerBefore, trainerAfter, COPIED_H2H), "no host staging on the trainer");
    assertEquals(
        0, delta(trainerBefore, trainerAfter, COPIED_H2D_FROM_PAGEABLE), "fetched page-locked");
    assertEquals(
        0, delta(trainerBefore, trainerAfter, COPIED_D2H), "nothing came back to the host");

    // The workers' own readings of their data plane's copies agree, and took time.
    WorkerMemory rolloutMemory = scheduler.workerMemory(ROLLOUT);
    WorkerMemory trainerMemory = scheduler.workerMemory(TRAINER);
    assertEquals(
        BYTES,
        rolloutMemory.copiedToHostBytes() - rolloutMemoryBefore.copiedToHostBytes(),
        rolloutMemory.toString());
    assertTrue(rolloutMemory.copiedToHostNanos() > rolloutMemoryBefore.copiedToHostNanos());
    assertEquals(
        rolloutMemoryBefore.copiedToDeviceBytes(),
        rolloutMemory.copiedToDeviceBytes(),
        "the rollout received nothing on its device");
    assertEquals(
        BYTES,
        trainerMemory.copiedToDeviceBytes() - trainerMemoryBefore.copiedToDeviceBytes(),
        trainerMemory.toString());
    assertTrue(trainerMemory.copiedToDeviceNanos() > trainerMemoryBefore.copiedToDeviceNanos());
    assertEquals(
        trainerMemoryBefore.copiedToHostBytes(),
        trainerMemory.copiedToHostBytes(),
        "the trainer stored no device tensor");

    String rolloutDevice = (String) call(ROLLOUT, "physicalId", 0);
    String trainerDevice = (String) call(TRAINER, "physicalId", 0);
    assertNotEquals(
        nodeOf(ROLLOUT) + " " + rolloutDevice,
        nodeOf(TRAINER) + " " + trainerDevice,
        "the workers hold different physical devices (of one node, or on different nodes)");
    assertEquals(trainerDevice, call(TRAINER, "receivedPhysicalId", 0));
    assertEquals("float32[768, 4096]", call(TRAINER, "receivedSpec", 0));
    assertArrayEquals(
        DeviceTensorEngine.patternBytes(ROWS, COLS, 3), (byte[]) call(TRAINER, "receivedBytes", 0));

    clearAndAssertNothingLeft(before, List.of(handle), 1);
  }

  /**
   * A tensor an engine method marked {@code @KeepOnDevice} returns: on CUDA over the Flight plane
   * it stays in the rollout's device memory and reaches the trainer (another process of the same
   * node) device to device by CUDA IPC, never touching the host; the controller, which has no
   * device, still fetches it, and the rollout's store copies it to the host for that fetch, once.
   * Elsewhere (Ascend, Ray's object store) it is stored at the return as any device tensor.
   */
  @Test
  void aTensorKeptOnDeviceReachesATrainerOfTheSameNodeDeviceToDevice() {
    Held before = held();
    call(ROLLOUT, "prepareOnWorker", ROWS, COLS, 11);
    long[] rolloutBefore = copied(ROLLOUT);
    long[] trainerBefore = copied(TRAINER);

    long onDeviceBefore = scheduler.workerMemory(TRAINER).copiedOnDeviceBytes();
    RTensor handle = assertInstanceOf(RTensor.class, call(ROLLOUT, "produceKept"));
    boolean ipc =
        runtime == RuntimeKind.CUDA && scheduler.dataPlane().plane().kind() == DataPlaneKind.FLIGHT;
    assertEquals(ipc, handle.deviceIpc() != null, handle.toString());
    assertEquals(0, call(TRAINER, "consume", handle), "received on the trainer's device 0");

    long[] rolloutAfter = copied(ROLLOUT);
    long[] trainerAfter = copied(TRAINER);
    if (ipc) {
      assertEquals(
          0, delta(rolloutBefore, rolloutAfter, COPIED_D2H), "the rollout copied nothing out");
      assertEquals(
          BYTES, delta(trainerBefore, trainerAfter, COPIED_D2D), "one device-to-device copy");
      assertEquals(0, delta(trainerBefore, trainerAfter, COPIED_H2D), "nothing from the host");
      assertEquals(1L, call(TRAINER, "ipcMappings"), "the trainer mapped the rollout's memory");
      assertEquals(
          BYTES,
          scheduler.workerMemory(TRAINER).copiedOnDeviceBytes() - onDeviceBefore,
          "the trainer's own count of its device-to-device copies");
    } else {
      assertEquals(BYTES, delta(rolloutBefore, rolloutAfter, COPIED_D2H), "one DMA to the host");
      assertEquals(BYTES, delta(trainerBefore, trainerAfter, COPIED_H2D), "one DMA back");
      assertEquals(0, delta(trainerBefore, trainerAfter, COPIED_D2D));
    }
    assertEquals(0, delta(trainerBefore, trainerAfter, COPIED_H2H), "no host staging");
    assertEquals(0, delta(trainerBefore, trainerAfter, COPIED_D2H), "nothing came to the host");
    assertEquals(call(TRAINER, "physicalId", 0), call(TRAINER, "receivedPhysicalId", 0));
    assertArrayEquals(
        DeviceTensorEngine.patternBytes(ROWS, COLS, 11),
        (byte[]) call(TRAINER, "receivedBytes", 0));

    // The controller has no device: it fetches the shard, which the rollout writes to the host
    // for this first fetch (with IPC) or wrote at the return (without).
    try (Tensor local = assertInstanceOf(Tensor.class, scheduler.dataPlane().localize(handle))) {
      assertArrayEquals(DeviceTensorEngine.patternBytes(ROWS, COLS, 11), local.toByteArray());
    }
    assertEquals(
        BYTES, delta(rolloutBefore, copied(ROLLOUT), COPIED_D2H), "one DMA to the host in all");

    clearAndAssertNothingLeft(before, List.of(handle), 1);
    assertEquals(0L, call(TRAINER, "ipcMappings"), "the clear closed the trainer's mapping");
  }

  @Test
  void aCallOnADeviceReceivesEveryTensorArgumentThere() {
    Held before = held();
    call(ROLLOUT, "prepareOnWorker", ROWS, COLS, 5);
    RTensor fromRollout = assertInstanceOf(RTensor.class, call(ROLLOUT, "produceOne"));
    byte[] hostBytes = DeviceTensorEngine.patternBytes(4, 8, 6);
    RTensor fromController;
    try (BufferAllocator allocator = new RootAllocator();
        Tensor host = Tensor.fromBytes(allocator, DType.FLOAT32, Shape.of(4, 8), hostBytes)) {
      fromController = assertInstanceOf(RTensor.class, scheduler.dataPlane().remotize(host));
    }
    String second = (String) call(TRAINER, "physicalId", 1);
    assertNotEquals(call(TRAINER, "physicalId", 0), second, "the trainer's two devices differ");

    // Without a device: an Object parameter and a list receive host tensors.
    assertEquals(
        List.of("Tensor", "Tensor"),
        call(TRAINER, "receiveAll", fromRollout, List.of(fromController)));

    long[] copiedBefore = copied(TRAINER);
    Object placed =
        scheduler.callEngine(
            TRAINER, "receiveAll", null, QUICK.withDevice(1), fromRollout, List.of(fromController));
    assertEquals(List.of("DeviceTensor@" + second, "DeviceTensor@" + second), placed);
    long[] copiedAfter = copied(TRAINER);
    assertEquals(
        BYTES + hostBytes.length, delta(copiedBefore, copiedAfter, COPIED_H2D), "one DMA each");
    assertEquals(0, delta(copiedBefore, copiedAfter, COPIED_H2H), "no host staging");
    assertEquals(
        0, delta(copiedBefore, copiedAfter, COPIED_H2D_FROM_PAGEABLE), "from page-locked memory");
    assertArrayEquals(
        DeviceTensorEngine.patternBytes(ROWS, COLS, 5), (byte[]) call(TRAINER, "receivedBytes", 0));
    assertArrayEquals(hostBytes, (byte[]) call(TRAINER, "receivedBytes", 1));

    clearAndAssertNothingLeft(before, List.of(fromRollout, fromController), 2);
  }

  @Test
  void aCallOnADeviceThatCannotPlaceItsTensorsIsRefusedBeforeTheEngineRuns() {
    Held before = held();
    List<Object> handles = new ArrayList<>();
    try (BufferAllocator allocator = new RootAllocator();
        Tensor host = Tensor.of(allocator, new long[] {1, 2, 3}, Shape.of(3));
        TensorBatch batch = TensorBatch.of("ids", host.share())) {
      handles.add(scheduler.dataPlane().remotize(host));
      handles.add(scheduler.dataPlane().remotize(batch));
    }
    RTensor tensor = (RTensor) handles.get(0);
    RTensor batch = (RTensor) handles.get(1);
    assertEquals(3L, call(TRAINER, "numelOnHost", tensor), "on the host it is accepted");
    long[] copiedBefore = copied(TRAINER);

    DeviceArgumentException hostParameter =
        assertThrows(
            DeviceArgumentException.class,
            () -> scheduler.callEngine(TRAINER, "numelOnHost", null, QUICK.withDevice(0), tensor));
    assertTrue(
        hostParameter
                .getMessage()
                .contains("numelOnHost(Tensor) takes a host tensor as parameter 0")
            && hostParameter.getMessage().contains("declare the parameter DeviceTensor"),
        hostParameter.getMessage());

    DeviceArgumentException noSuchDevice =
        assertThrows(
            DeviceArgumentException.class,
            () -> scheduler.callEngine(TRAINER, "consume", null, QUICK.withDevice(2), tensor));
    assertTrue(
        noSuchDevice.getMessage().contains("holds 2 " + runtime() + " device(s)")
            && noSuchDevice.getMessage().contains("not device 2"),
        noSuchDevice.getMessage());

    DeviceArgumentException aBatch =
        assertThrows(
            DeviceArgumentException.class,
            () ->
                scheduler.callEngine(
                    TRAINER, "receiveAll", null, QUICK.withDevice(0), tensor, List.of(batch)));
    assertTrue(aBatch.getMessage().contains("tensor batch"), aBatch.getMessage());

    assertArrayEquals(copiedBefore, copied(TRAINER), "nothing was copied to a device");
    assertEquals(List.of(), call(TRAINER, "receivedSpecs"), "the engine received nothing");
    clearAndAssertNothingLeft(before, handles, 2);
  }

  @Test
  void engineContextsGiveTheWorkersDevice() {
    String context = (String) call(TRAINER, "contextDevice");
    assertEquals(runtime() + " 0 " + call(TRAINER, "physicalId", 0), context);
    assertNotEquals(
        nodeOf(TRAINER) + " " + context, nodeOf(ROLLOUT) + " " + call(ROLLOUT, "contextDevice"));
  }

  /** The node IP the scheduler placed the worker {@code id} on. */
  private String nodeOf(String id) {
    String role = id.substring(0, id.indexOf('/'));
    return scheduler.getWorkers(role, Duration.ofSeconds(30)).stream()
        .filter(w -> w.id().equals(id))
        .findFirst()
        .orElseThrow()
        .ip();
  }
}
