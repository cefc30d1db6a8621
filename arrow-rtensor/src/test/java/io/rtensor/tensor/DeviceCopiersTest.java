package io.rtensor.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rtensor.device.Device;
import io.rtensor.device.DeviceRuntimes;
import io.rtensor.device.RuntimeKind;
import io.rtensor.device.internal.DeviceOps;
import io.rtensor.tensor.DeviceCopiers.PageableTarget;
import java.util.Random;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * How {@link DeviceCopiers} copies a device tensor into pageable host memory (a Ray object, say),
 * on the fake CUDA runtime, whose counters tell a DMA into page-locked or registered memory from
 * one into pageable memory, and staging copies from DMAs.
 */
class DeviceCopiersTest {
  private static final int H2H = 3;
  private static final int D2H = 1;
  private static final int D2H_INTO_PAGEABLE = 5;
  private static final int REGISTERED_MEMORY = 2;

  /** 3 MiB and a bit: more than one staging chunk, not page-aligned at either end. */
  private static final int BYTES = (3 << 20) + 4100;

  private BufferAllocator allocator;
  private Device device;
  private byte[] pattern;

  @BeforeEach
  void setUp() {
    allocator = new RootAllocator();
    device = DeviceRuntimes.get(RuntimeKind.CUDA).device(0);
    pattern = new byte[BYTES];
    new Random(7).nextBytes(pattern);
  }

  @AfterEach
  void tearDown() {
    allocator.close(); // fails on a leaked buffer
  }

  private static long copied(int counter) {
    return DeviceOps.fake_copied_bytes(DeviceOps.BACKEND_CUDA, counter);
  }

  /** Copies the pattern's device tensor to offset 13 of a pageable buffer; returns the counters. */
  private long[] copyIntoPageable(DeviceCopiers copiers) {
    try (Tensor host = Tensor.fromBytes(allocator, DType.UINT8, Shape.of(BYTES), pattern);
        DeviceTensor onDevice = DeviceTensor.copyOf(device, host);
        ArrowBuf target = allocator.buffer(BYTES + 64)) {
      long[] before = {copied(D2H), copied(D2H_INTO_PAGEABLE), copied(H2H)};
      copiers.copyToHost(onDevice, target, 13);
      long[] after = {copied(D2H), copied(D2H_INTO_PAGEABLE), copied(H2H)};
      byte[] back = new byte[BYTES];
      target.getBytes(13, back);
      assertArrayEquals(pattern, back);
      return new long[] {after[0] - before[0], after[1] - before[1], after[2] - before[2]};
    }
  }

  @Test
  void registerDmasStraightIntoPageableMemoryAndUnregistersIt() {
    try (DeviceCopiers copiers = new DeviceCopiers(PageableTarget.REGISTER)) {
      long[] counted = copyIntoPageable(copiers);
      assertEquals(BYTES, counted[0], "one device-to-host DMA of every byte");
      assertEquals(0, counted[1], "into registered memory, not pageable");
      assertEquals(0, counted[2], "no staging copy");
      assertEquals(
          0,
          DeviceOps.fake_live_bytes(DeviceOps.BACKEND_CUDA, REGISTERED_MEMORY),
          "the range is unregistered after the copy");
    }
  }

  @Test
  void stageGoesThroughPageLockedSlots() {
    try (DeviceCopiers copiers = new DeviceCopiers(PageableTarget.STAGE)) {
      long[] counted = copyIntoPageable(copiers);
      assertEquals(BYTES, counted[0], "one device-to-host DMA of every byte");
      assertEquals(0, counted[1], "the DMAs land in the staging slots");
      assertEquals(BYTES, counted[2], "each byte copied once on the host");
    }
  }

  @Test
  void aRangeTheRuntimeRefusesToRegisterIsStaged() {
    try (Tensor host = Tensor.fromBytes(allocator, DType.UINT8, Shape.of(BYTES), pattern);
        DeviceTensor onDevice = DeviceTensor.copyOf(device, host);
        ArrowBuf target = allocator.buffer(BYTES);
        DeviceCopiers copiers = new DeviceCopiers(PageableTarget.REGISTER);
        var held =
            device.register(io.rtensor.device.HostMemory.pageable(target.memoryAddress(), BYTES))) {
      long stagedBefore = copied(H2H);
      copiers.copyToHost(onDevice, target, 0);
      assertEquals(BYTES, copied(H2H) - stagedBefore, "already registered: staged instead");
      byte[] back = new byte[BYTES];
      target.getBytes(0, back);
      assertArrayEquals(pattern, back);
    }
  }

  @Test
  void thePropertyChoosesTheModeAndABadValueIsNamed() {
    String old = System.getProperty(DeviceCopiers.PAGEABLE_TARGET_PROPERTY);
    try {
      System.clearProperty(DeviceCopiers.PAGEABLE_TARGET_PROPERTY);
      assertEquals(PageableTarget.REGISTER, DeviceCopiers.pageableTargetFromProperty());
      System.setProperty(DeviceCopiers.PAGEABLE_TARGET_PROPERTY, " Stage ");
      assertEquals(PageableTarget.STAGE, new DeviceCopiers().pageableTarget());
      System.setProperty(DeviceCopiers.PAGEABLE_TARGET_PROPERTY, "pin");
      IllegalArgumentException e =
          assertThrows(IllegalArgumentException.class, DeviceCopiers::pageableTargetFromProperty);
      assertTrue(e.getMessage().contains("register or stage, not 'pin'"), e.getMessage());
    } finally {
      if (old == null) {
        System.clearProperty(DeviceCopiers.PAGEABLE_TARGET_PROPERTY);
      } else {
        System.setProperty(DeviceCopiers.PAGEABLE_TARGET_PROPERTY, old);
      }
    }
  }
}
