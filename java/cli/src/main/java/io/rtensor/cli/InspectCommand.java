package io.rtensor.cli;

import io.rtensor.device.NativeHost;
import io.rtensor.tensor.Tensor;
import io.rtensor.tensor.TensorBatch;
import io.rtensor.wire.ShardCodec;
import io.rtensor.wire.WireFormatException;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

/** {@code ./rtensor inspect FILE|-}: validates an Arrow IPC shard and describes its columns. */
@Command(
    name = "inspect",
    description = {
      "Validate an Arrow IPC shard; print each column's dtype, shape, bytes, checksum.",
      "Reads one shard (a file, or standard input for '-'), checks it, and prints its columns."
          + " Bad input: exit 2 and one line naming the problem."
    })
final class InspectCommand implements Callable<Integer> {
  @ParentCommand private Main main;
  @Mixin private HelpOption help;

  @Parameters(paramLabel = "FILE|-", description = "the shard, or '-' for standard input")
  private String source;

  @Override
  public Integer call() {
    PrintStream out = main.out();
    PrintStream err = main.err();
    byte[] bytes;
    try {
      bytes = source.equals("-") ? main.in().readAllBytes() : Files.readAllBytes(Path.of(source));
    } catch (NoSuchFileException e) {
      err.println("rtensor inspect: " + source + ": no such file");
      return 2;
    } catch (IOException e) {
      err.println("rtensor inspect: " + source + ": cannot read: " + e.getMessage());
      return 2;
    }
    try (BufferAllocator allocator = new RootAllocator();
        TensorBatch batch = ShardCodec.decode(bytes, allocator)) {
      out.printf(
          "%s: valid shard, %d column(s), %d row(s), %d bytes%n",
          source, batch.size(), batch.rows(), bytes.length);
      out.printf("  %-24s %-9s %-20s %12s  %s%n", "column", "dtype", "shape", "bytes", "checksum");
      for (Map.Entry<String, Tensor> e : batch.tensors().entrySet()) {
        Tensor t = e.getValue();
        long sum =
            t.byteSize() == 0
                ? NativeHost.checksum(0, 0)
                : NativeHost.checksum(t.buffer().memoryAddress(), t.byteSize());
        out.printf(
            "  %-24s %-9s %-20s %12d  %016x%n",
            e.getKey(), t.dtype().numpyName(), t.shape(), t.byteSize(), sum);
      }
      return 0;
    } catch (WireFormatException e) {
      err.println("rtensor inspect: " + source + ": " + e.getMessage());
      return 2;
    }
  }
}
