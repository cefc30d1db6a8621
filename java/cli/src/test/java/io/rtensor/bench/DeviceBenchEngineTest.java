package io.rtensor.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rtensor.device.Device;
import io.rtensor.device.DeviceRuntimes;
import io.rtensor.engine.EngineContext;
import io.rtensor.tensor.DeviceTensor;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The engine of the GPU-to-GPU rows, both halves in this JVM on the CPU backend (host memory as the
 * "device"): the RTensor path's check and the raw socket chain move and verify every byte, and a
 * wrong byte or seed fails the check.
 */
class DeviceBenchEngineTest {
  private static final int COUNT = 3;
  private static final long SHARD = 64 * 1024 + 5;
  private static final long SEED = 77;

  private final DeviceBenchEngine producer = new DeviceBenchEngine();
  private final DeviceBenchEngine consumer = new DeviceBenchEngine();

  private static EngineContext on(Device device, String id) {
    return new EngineContext(id, "default", "bench", 0, 0, Map.of(), List.of(0), device);
  }

  @BeforeEach
  void prepare() throws Exception {
    Device cpu = DeviceRuntimes.cpu().device(0);
    producer.initialize(on(cpu, "producer/0"));
    consumer.initialize(on(cpu, "consumer/0"));
    producer.prepareProducer(COUNT, SHARD, SEED);
    int port = consumer.prepareConsumer(COUNT, SHARD, "127.0.0.1");
    producer.rawConnect("127.0.0.1", port);
  }

  @AfterEach
  void destroy() throws Exception {
    producer.destroy();
    consumer.destroy();
  }

  @Test
  void theRtensorPathsCheckPassesForTheProducersShardsAndFailsForOtherBytes() {
    List<DeviceTensor> shards = producer.produce();
    try {
      assertEquals(COUNT, shards.size());
      assertEquals(COUNT * SHARD, consumer.consume(shards));
      assertEquals(COUNT * SHARD, consumer.consumeAndCheck(shards, SEED));
      IllegalStateException wrong =
          assertThrows(
              IllegalStateException.class, () -> consumer.consumeAndCheck(shards, SEED + 1));
      assertTrue(
          wrong.getMessage().startsWith("the rtensor path, shard 0 delivered wrong bytes"),
          wrong.getMessage());
      assertThrows(
          IllegalStateException.class,
          () -> consumer.consumeAndCheck(List.of(shards.get(1), shards.get(0)), SEED),
          "shards out of order");
    } finally {
      shards.forEach(DeviceTensor::close);
    }
  }

  @Test
  void theRawSocketChainMovesEveryShardOntoTheConsumersBuffers() throws Exception {
    assertThrows(
        IllegalStateException.class,
        () -> consumer.checkRawReceived(SEED),
        "nothing received yet: the buffers hold other bytes");
    for (int step = 0; step < 2; step++) {
      CompletableFuture<Long> received =
          CompletableFuture.supplyAsync(
              () -> {
                try {
                  return consumer.rawReceive();
                } catch (java.io.IOException e) {
                  throw new java.io.UncheckedIOException(e);
                }
              });
      assertEquals(COUNT * SHARD, producer.rawSend());
      assertEquals(COUNT * SHARD, received.get(60, TimeUnit.SECONDS));
      assertEquals(COUNT * SHARD, consumer.checkRawReceived(SEED));
    }
    IllegalStateException wrong =
        assertThrows(IllegalStateException.class, () -> consumer.checkRawReceived(SEED + 3));
    assertTrue(wrong.getMessage().startsWith("the raw chain, shard 0"), wrong.getMessage());
  }

  @Test
  void anEngineWithoutADeviceRefusesToStart() {
    DeviceBenchEngine e = new DeviceBenchEngine();
    IllegalStateException refused =
        assertThrows(IllegalStateException.class, () -> e.initialize(on(null, "host/0")));
    assertTrue(refused.getMessage().startsWith("host/0 holds no device"), refused.getMessage());
  }
}
