/**
 * The shard wire format: one {@link io.rtensor.tensor.TensorBatch} as an Arrow IPC stream (schema
 * message, one record batch, end-of-stream marker), read by pyarrow with no code of ours. See
 * {@link io.rtensor.tensor.TensorFields} for how tensors map to columns and {@link
 * io.rtensor.wire.ShardCodec} for the entry points.
 */
package io.rtensor.wire;
