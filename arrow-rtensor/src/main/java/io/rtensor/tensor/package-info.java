/** Tensors held in Arrow memory: dtypes, shapes, tensors and batches. */
package io.rtensor.tensor;
