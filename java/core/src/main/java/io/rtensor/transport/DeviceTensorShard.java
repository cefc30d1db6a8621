package io.rtensor.transport;

import io.rtensor.handle.RTensor;
import io.rtensor.tensor.ColumnSpec;
import io.rtensor.tensor.DeviceCopiers;
import io.rtensor.tensor.DeviceTensor;
import io.rtensor.tensor.Shape;
import java.util.List;
import org.apache.arrow.memory.ArrowBuf;

/**
 * A device tensor as a one-column shard ({@link RTensor#TENSOR_COLUMN}) whose bytes a
 * device-to-host copy writes straight into the shard's memory: pipelined by the process's {@link
 * DeviceCopiers}, or one synchronous copy of the tensor's device without them.
 */
final class DeviceTensorShard implements ShardWriter {
  private final DeviceTensor tensor;
  private final DeviceCopiers copiers;
  private final List<ColumnSpec> columns;

  DeviceTensorShard(DeviceTensor tensor, DeviceCopiers copiers) {
    this.tensor = tensor;
    this.copiers = copiers;
    this.columns = List.of(ColumnSpec.of(RTensor.TENSOR_COLUMN, tensor.dtype(), tensor.shape()));
  }

  @Override
  public List<ColumnSpec> columns() {
    return columns;
  }

  @Override
  public long rows() {
    Shape shape = tensor.shape();
    return shape.rank() == 0 ? 1 : shape.dim(0);
  }

  @Override
  public void write(int column, ArrowBuf target, long offset, long length) {
    if (column != 0 || length != tensor.byteSize()) {
      throw new IllegalArgumentException(
          "column " + column + " of " + length + " bytes asked of a one-column shard of " + tensor);
    }
    if (copiers != null) {
      copiers.copyToHost(tensor, target, offset);
    } else {
      tensor.device().copyToHost(tensor.buffer(), 0, target, offset, length);
    }
  }
}
