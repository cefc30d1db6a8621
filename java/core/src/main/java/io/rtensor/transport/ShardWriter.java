package io.rtensor.transport;

import io.rtensor.tensor.ColumnSpec;
import io.rtensor.tensor.DType;
import io.rtensor.tensor.Shape;
import io.rtensor.tensor.Tensor;
import io.rtensor.tensor.TensorBatch;
import io.rtensor.wire.ShardCodec;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;

/**
 * A shard whose producer writes its bytes straight into the memory the shard is stored in ({@link
 * DataPlane#put(ShardWriter)}): the columns are declared first, the store lays out the Arrow IPC
 * stream and writes its framing, and {@link #write} fills each column's body where the stream holds
 * it. A device tensor is stored so with one device-to-host DMA into the store's memory.
 */
public interface ShardWriter extends ShardCodec.ColumnWriter {
  /** The shard's columns, in order. */
  List<ColumnSpec> columns();

  /** The shard's rows (1 for scalar columns). */
  long rows();

  /** Tensor bytes of the shard, without the framing. */
  default long byteSize() {
    long bytes = 0;
    for (ColumnSpec c : columns()) {
      bytes += c.shape(rows()).byteSize(c.dtype());
    }
    return bytes;
  }

  /**
   * The shard as a batch of host tensors of {@code allocator}, the columns written into them: for a
   * plane that cannot store a shard in place. The caller closes it.
   */
  default TensorBatch toBatch(BufferAllocator allocator) {
    Map<String, Tensor> tensors = new LinkedHashMap<>();
    try {
      List<ColumnSpec> columns = columns();
      for (int i = 0; i < columns.size(); i++) {
        ColumnSpec c = columns.get(i);
        Shape shape = c.shape(rows());
        DType dtype = c.dtype();
        Tensor t = Tensor.allocateUninitialized(allocator, dtype, shape);
        tensors.put(c.name(), t);
        if (t.byteSize() > 0) {
          ArrowBuf buffer = t.buffer();
          write(i, buffer, 0, t.byteSize());
        }
      }
      return TensorBatch.of(tensors);
    } catch (RuntimeException e) {
      tensors.values().forEach(Tensor::close);
      throw e;
    }
  }
}
