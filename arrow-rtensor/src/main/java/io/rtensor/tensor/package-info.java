/**
 * Tensors: dtypes, shapes, tensors and batches in Arrow memory, and {@link
 * io.rtensor.tensor.DeviceTensor}s in a device's memory, exchanged with other libraries as DLPack.
 */
package io.rtensor.tensor;
