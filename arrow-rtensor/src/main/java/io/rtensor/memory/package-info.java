/** Arrow memory for rtensor processes: a root allocator that reuses freed large blocks. */
package io.rtensor.memory;
