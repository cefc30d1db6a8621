package io.rtensor.cli;

import io.rtensor.tensor.Tensor;
import io.rtensor.tensor.TensorBatch;
import io.rtensor.wire.NpyFormat;
import io.rtensor.wire.ShardCodec;
import io.rtensor.wire.WireFormatException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

/**
 * {@code ./rtensor convert IN OUT}: a numpy {@code .npy} file to a one-column Arrow IPC shard, or a
 * shard's column back to {@code .npy}. The direction follows IN's content (the .npy magic).
 */
@Command(
    name = "convert",
    description = {
      "Convert between a numpy .npy file and an Arrow IPC shard (either way).",
      "  IN .npy  -> OUT: a shard with one column (NAME, default 'tensor')",
      "  IN shard -> OUT .npy: the shard's only column, or --column NAME",
      "  dtypes: bool, uint8, int8, int16, int32, int64, float16, float32, float64;",
      "  bfloat16 has no .npy dtype and is refused with a message.",
      ""
    })
final class ConvertCommand implements Callable<Integer> {
  private static final byte[] NPY_MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};

  @ParentCommand private Main main;
  @Mixin private HelpOption help;

  @Option(
      names = "--column",
      paramLabel = "NAME",
      description = "the shard column: the one written (default 'tensor'), or the one read")
  private String column;

  @Parameters(index = "0", paramLabel = "IN", description = "a .npy file or a shard")
  private String in;

  @Parameters(index = "1", paramLabel = "OUT", description = "the file to write")
  private String outPath;

  @Override
  public Integer call() throws Exception {
    PrintStream out = main.out();
    PrintStream err = main.err();
    Path source = Path.of(in);
    Path target = Path.of(outPath);
    try (BufferAllocator allocator = new RootAllocator()) {
      if (isNpy(source)) {
        String name = column == null ? "tensor" : column;
        try (Tensor tensor = NpyFormat.read(source, allocator);
            TensorBatch batch = TensorBatch.of(name, tensor.share());
            OutputStream stream = Files.newOutputStream(target)) {
          long bytes = ShardCodec.encode(batch, stream);
          out.printf(
              "%s -> %s: shard column '%s' %s%s, %d bytes%n",
              in, outPath, name, tensor.dtype().numpyName(), tensor.shape(), bytes);
        }
      } else {
        byte[] bytes = Files.readAllBytes(source);
        try (TensorBatch batch = ShardCodec.decode(bytes, allocator)) {
          String name = column;
          if (name == null) {
            if (batch.size() != 1) {
              err.println(
                  "rtensor convert: "
                      + in
                      + " has "
                      + batch.size()
                      + " columns "
                      + batch.names()
                      + "; choose one with --column NAME");
              return 2;
            }
            name = batch.names().iterator().next();
          } else if (!batch.names().contains(name)) {
            err.println(
                "rtensor convert: "
                    + in
                    + " has no column '"
                    + name
                    + "'; columns: "
                    + batch.names());
            return 2;
          }
          Tensor tensor = batch.tensor(name);
          NpyFormat.write(tensor, target);
          out.printf(
              "%s -> %s: .npy %s%s from column '%s'%n",
              in, outPath, tensor.dtype().numpyName(), tensor.shape(), name);
        }
      }
      return 0;
    } catch (NoSuchFileException e) {
      err.println("rtensor convert: " + e.getFile() + ": no such file");
      return 2;
    } catch (WireFormatException | IllegalArgumentException e) {
      err.println("rtensor convert: " + in + ": " + e.getMessage());
      Files.deleteIfExists(target);
      return 2;
    }
  }

  private static boolean isNpy(Path file) throws IOException {
    try (InputStream in = Files.newInputStream(file)) {
      byte[] head = in.readNBytes(NPY_MAGIC.length);
      return java.util.Arrays.equals(head, NPY_MAGIC);
    }
  }
}
