package io.rtensor.cli;

import io.rtensor.device.NativeHost;
import io.rtensor.tensor.Tensor;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

/**
 * {@code ./rtensor inspect FILE|-}: validates an Arrow IPC shard and describes its columns. Text
 * from the shard (column names, what an error quotes) is printed escaped, so a shard cannot forge
 * lines of the output.
 */
@Command(
    name = "inspect",
    description = {
      "Validate an Arrow IPC shard; print each column's dtype, shape, bytes, checksum.",
      "Reads one shard (a file, or standard input for '-'), checks it, and prints its columns;"
          + " names are shown escaped (\\n, \\u001b). Bad input: exit 2 and one line naming the"
          + " problem."
    })
final class InspectCommand implements Callable<Integer> {
  @ParentCommand private Main main;
  @Mixin private HelpOption help;

  @Parameters(paramLabel = "FILE|-", description = "the shard, or '-' for standard input")
  private String source;

  @Override
  public Integer call() throws BadInputException {
    PrintStream out = main.out();
    try (BufferAllocator allocator = new RootAllocator();
        InputFile.Shard shard =
            source.equals("-")
                ? InputFile.readShard(main.in(), allocator)
                : InputFile.readShard(Path.of(source), allocator)) {
      out.printf(
          "%s: valid shard, %d column(s), %d row(s), %d bytes%n",
          Escaped.text(source), shard.batch().size(), shard.batch().rows(), shard.bytes());
      out.printf("  %-24s %-9s %-20s %12s  %s%n", "column", "dtype", "shape", "bytes", "checksum");
      for (Map.Entry<String, Tensor> e : shard.batch().tensors().entrySet()) {
        Tensor t = e.getValue();
        long sum =
            t.byteSize() == 0
                ? NativeHost.checksum(0, 0)
                : NativeHost.checksum(t.memoryAddress(), t.byteSize());
        out.printf(
            "  %-24s %-9s %-20s %12d  %016x%n",
            Escaped.text(e.getKey()), t.dtype().numpyName(), t.shape(), t.byteSize(), sum);
      }
      return 0;
    }
  }
}
