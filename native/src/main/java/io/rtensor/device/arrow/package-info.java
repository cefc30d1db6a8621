/**
 * Page-locked Arrow memory: {@link io.rtensor.device.arrow.PinnedAllocationManager} plugs memory
 * pinned by the loaded device runtime into Arrow, so an {@code ArrowBuf} is the direct target of a
 * device-to-host DMA. {@link io.rtensor.device.arrow.PinnedAllocators} makes the allocators; their
 * blocks come from a capped {@link io.rtensor.device.arrow.PinnedMemoryPool} that reuses them.
 */
package io.rtensor.device.arrow;
