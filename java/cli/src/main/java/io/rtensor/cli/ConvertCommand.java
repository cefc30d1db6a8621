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
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

/**
 * {@code ./rtensor convert IN OUT}: a numpy {@code .npy} file to a one-column Arrow IPC shard, or a
 * shard's column back to {@code .npy}. The direction follows IN's content (the .npy magic). OUT is
 * written to a temporary file beside it and renamed into place when complete: on any failure OUT is
 * what it was.
 */
@Command(
    name = "convert",
    description = {
      "Convert between a numpy .npy file and an Arrow IPC shard (either way).",
      "  IN .npy  -> OUT: a shard with one column (NAME, default 'tensor')",
      "  IN shard -> OUT .npy: the shard's only column, or --column NAME",
      "  dtypes: bool, uint8, int8, int16, int32, int64, float16, float32, float64;",
      "  bfloat16 has no .npy dtype and is refused with a message.",
      "OUT is replaced only by a complete file: on any failure it is left as it was.",
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
  private Path in;

  @Parameters(index = "1", paramLabel = "OUT", description = "the file to write")
  private Path target;

  @Override
  public Integer call() throws BadInputException, IOException {
    PrintStream out = main.out();
    InputFile.checkReadable(in);
    if (Files.exists(target) && Files.isSameFile(in, target)) {
      throw new BadInputException(
          InputFile.shown(in)
              + " and "
              + InputFile.shown(target)
              + " are the same file: OUT must differ from IN");
    }
    try (BufferAllocator allocator = new RootAllocator()) {
      if (isNpy(in)) {
        String name = column == null ? "tensor" : column;
        try (Tensor tensor = readNpy(allocator);
            TensorBatch batch = TensorBatch.of(name, tensor.share())) {
          long[] bytes = new long[1];
          AtomicFile.write(
              target,
              file -> {
                try (OutputStream stream = Files.newOutputStream(file)) {
                  bytes[0] = ShardCodec.encode(batch, stream);
                }
              });
          out.printf(
              "%s -> %s: shard column '%s' %s%s, %d bytes%n",
              InputFile.shown(in),
              InputFile.shown(target),
              Escaped.text(name),
              tensor.dtype().numpyName(),
              tensor.shape(),
              bytes[0]);
        }
      } else {
        try (InputFile.Shard shard = InputFile.readShard(in, allocator)) {
          TensorBatch batch = shard.batch();
          String name = chooseColumn(batch);
          Tensor tensor = batch.tensor(name);
          try {
            NpyFormat.descriptor(tensor.dtype());
          } catch (IllegalArgumentException e) {
            throw new BadInputException(
                InputFile.shown(in) + ": column '" + Escaped.text(name) + "': " + e.getMessage());
          }
          AtomicFile.write(target, file -> NpyFormat.write(tensor, file));
          out.printf(
              "%s -> %s: .npy %s%s from column '%s'%n",
              InputFile.shown(in),
              InputFile.shown(target),
              tensor.dtype().numpyName(),
              tensor.shape(),
              Escaped.text(name));
        }
      }
      return 0;
    }
  }

  private Tensor readNpy(BufferAllocator allocator) throws BadInputException {
    try {
      return NpyFormat.read(in, allocator);
    } catch (WireFormatException | IllegalArgumentException e) {
      throw InputFile.invalid(in, e);
    } catch (IOException e) {
      throw InputFile.unreadable(in, e);
    }
  }

  /** The column to write: {@code --column}, else the shard's only one. */
  private String chooseColumn(TensorBatch batch) throws BadInputException {
    String columns =
        batch.names().stream()
            .map(n -> "'" + Escaped.text(n) + "'")
            .collect(Collectors.joining(", "));
    if (column == null) {
      if (batch.size() != 1) {
        throw new BadInputException(
            InputFile.shown(in)
                + " has "
                + batch.size()
                + " columns ("
                + columns
                + "); choose one with --column NAME");
      }
      return batch.names().iterator().next();
    }
    if (!batch.names().contains(column)) {
      throw new BadInputException(
          InputFile.shown(in)
              + " has no column '"
              + Escaped.text(column)
              + "'; columns: "
              + columns);
    }
    return column;
  }

  private boolean isNpy(Path file) throws BadInputException {
    try (InputStream stream = Files.newInputStream(file)) {
      return Arrays.equals(stream.readNBytes(NPY_MAGIC.length), NPY_MAGIC);
    } catch (IOException e) {
      throw InputFile.unreadable(file, e);
    }
  }
}
