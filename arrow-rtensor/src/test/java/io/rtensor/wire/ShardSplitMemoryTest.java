package io.rtensor.wire;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rtensor.tensor.DType;
import io.rtensor.tensor.Shape;
import io.rtensor.tensor.Tensor;
import io.rtensor.tensor.TensorBatch;
import io.rtensor.tensor.TestTensors;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Splitting into shards and encoding them makes no intermediate copies of tensor bytes. */
class ShardSplitMemoryTest {
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
  void splittingA16MiBBatchInto64EncodedShardsAllocatesOnlyTheOutputs() {
    Map<String, Tensor> m = new LinkedHashMap<>();
    m.put("ids", TestTensors.random(allocator, DType.INT64, Shape.of(64), 1));
    m.put("hidden", Tensor.allocate(allocator, DType.FLOAT32, Shape.of(64, 256, 255)));
    m.put("mask", TestTensors.random(allocator, DType.BOOL, Shape.of(64, 1024), 2));
    try (TensorBatch batch = TensorBatch.of(m);
        BufferAllocator work = allocator.newChildAllocator("split", 0, Long.MAX_VALUE)) {
      long outputs = 0;
      List<ArrowBuf> encoded = new ArrayList<>();
      List<TensorBatch> shards = batch.split(64);
      for (TensorBatch shard : shards) {
        ArrowBuf out = work.buffer(ShardCodec.encodedSize(shard));
        ShardCodec.encodeInto(shard, out);
        encoded.add(out);
        outputs += out.getReferenceManager().getAccountedSize();
      }
      long extra = work.getPeakMemoryAllocation() - outputs;
      System.out.printf("split+encode of 64 shards: %d bytes beyond the outputs%n", extra);
      assertTrue(extra < (1 << 20), extra + " bytes allocated beyond the encoded outputs");
      for (int i = 0; i < shards.size(); i++) {
        try (TensorBatch back = ShardCodec.decode(encoded.get(i), allocator)) {
          ShardCodecTest.assertSameBatch(shards.get(i), back);
        }
      }
      shards.forEach(TensorBatch::close);
      encoded.forEach(ArrowBuf::close);
      assertEquals(0, work.getAllocatedMemory());
    }
  }
}
