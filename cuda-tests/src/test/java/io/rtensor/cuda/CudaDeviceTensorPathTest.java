package io.rtensor.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import io.rtensor.device.DeviceRuntime;
import io.rtensor.device.RuntimeKind;
import io.rtensor.handle.RTensor;
import io.rtensor.scheduler.CallOptions;
import io.rtensor.scheduler.DeviceType;
import io.rtensor.scheduler.Job;
import io.rtensor.scheduler.SchedulingSpec;
import io.rtensor.scheduler.local.LocalScheduler;
import io.rtensor.tensor.DType;
import io.rtensor.tensor.Shape;
import io.rtensor.transport.SeededBytes;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Device tensors on the RTensor path on a real GPU: two worker processes of the local scheduler (on
 * two GPUs where there are two, else the second a fork of the first on the same GPU), the first's
 * engine returns a device tensor, stored with one copy from its GPU into its Flight store's
 * page-locked memory, and the second's engine receives it on its own GPU, every byte intact.
 */
@Tag("gpu")
@Order(4)
class CudaDeviceTensorPathTest {
  private static final CallOptions CALL =
      CallOptions.DEFAULT.withTimeout(Duration.ofMinutes(5)).withMaxRetries(0);

  private static final long ROWS = 1024;
  private static final long COLS = 4099; // 16 MiB and change: several chunks of the copies
  private static final long BYTES = ROWS * COLS * 4;

  /** A producer and a consumer worker, each with a GPU (the same one where there is one). */
  private static LocalScheduler twoWorkers(DeviceRuntime cuda) {
    SchedulingSpec spec =
        SchedulingSpec.builder()
            .cpu(1)
            .devices(1, DeviceType.GPU)
            .env(Map.of(RuntimeKind.CUDA.libraryEnvironment(), cuda.library()))
            .build();
    LocalScheduler scheduler = LocalScheduler.builder().build();
    try {
      scheduler.createWorkers(Job.builder("producer").task(spec).build());
      if (scheduler.nGpusPerNode() >= 2) {
        scheduler.createWorkers(Job.builder("consumer").task(spec).build());
      } else {
        scheduler.forkWorkers("consumer", "producer");
      }
      for (String worker : List.of("producer/0", "consumer/0")) {
        scheduler.createEngine(worker, GpuTensorEngine.class.getName(), null);
      }
      return scheduler;
    } catch (RuntimeException e) {
      scheduler.close();
      throw e;
    }
  }

  @Test
  void aTensorKeptOnTheProducersGpuReachesTheConsumerByCudaIpcWithoutTheHost() {
    DeviceRuntime cuda = Gpu.cudaOrSkip();
    long seed = 20_261_130;
    try (LocalScheduler scheduler = twoWorkers(cuda)) {
      scheduler.callEngine("producer/0", "prepare", null, CALL, ROWS, COLS, seed);
      RTensor handle =
          assertInstanceOf(
              RTensor.class, scheduler.callEngine("producer/0", "produceKept", null, CALL));
      assertNotNull(handle.deviceIpc(), "the handle names the producer's GPU memory");

      String consumerGpu = (String) scheduler.callEngine("consumer/0", "physicalId", null, CALL);
      String received =
          (String) scheduler.callEngine("consumer/0", "receive", null, CALL.withDevice(0), handle);
      assertEquals(
          consumerGpu + " float32[1024, 4099] " + SeededBytes.checksum(seed, BYTES),
          received,
          "on the consumer's GPU, every byte the producer's");
      assertEquals(
          0,
          scheduler.workerMemory("producer/0").copiedToHostBytes(),
          "the producer copied nothing to the host");
      assertEquals(
          0,
          scheduler.workerMemory("consumer/0").copiedToDeviceBytes(),
          "the consumer copied nothing from the host: device to device by CUDA IPC");
      assertEquals(1, scheduler.clearShards(handle), "the shard left the producer's store");
    }
  }

  @Test
  void aDeviceTensorOneWorkerReturnsIsReceivedOnTheOthersGpuWithEveryByte() {
    DeviceRuntime cuda = Gpu.cudaOrSkip();
    long rows = ROWS;
    long cols = COLS;
    long seed = 20_240_611;
    try (LocalScheduler scheduler = twoWorkers(cuda)) {
      scheduler.callEngine("producer/0", "prepare", null, CALL, rows, cols, seed);

      RTensor handle =
          assertInstanceOf(
              RTensor.class, scheduler.callEngine("producer/0", "produce", null, CALL));
      assertEquals(RTensor.Kind.TENSOR, handle.kind());
      assertEquals(DType.FLOAT32, handle.dtype());
      assertEquals(Shape.of(rows, cols), handle.shape());

      String consumerGpu = (String) scheduler.callEngine("consumer/0", "physicalId", null, CALL);
      String received =
          (String) scheduler.callEngine("consumer/0", "receive", null, CALL.withDevice(0), handle);
      long bytes = BYTES;
      assertEquals(
          consumerGpu + " float32[1024, 4099] " + SeededBytes.checksum(seed, bytes),
          received,
          "on the consumer's GPU, every byte the producer's");
      assertEquals(1, scheduler.clearShards(handle), "the shard left the producer's store");
    }
  }
}
