package io.rtensor.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rtensor.tensor.Shape;
import io.rtensor.tensor.Tensor;
import io.rtensor.tensor.TensorBatch;
import io.rtensor.testing.PythonEnv;
import io.rtensor.wire.ShardCodec;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CliTest {
  private BufferAllocator allocator;

  @BeforeEach
  void open() {
    allocator = new RootAllocator();
  }

  @AfterEach
  void close() {
    allocator.close();
  }

  private record Run(int code, String out, String err) {}

  private static Run run(String... args) {
    return runWithInput(new ByteArrayInputStream(new byte[0]), args);
  }

  private static Run runWithInput(InputStream in, String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int code =
        new Main(
                new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8),
                in)
            .execute(args);
    return new Run(
        code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
  }

  private byte[] shard(String column) {
    try (Tensor ids = Tensor.of(allocator, new long[] {1, 2, 3, 4, 5, 6}, Shape.of(2, 3));
        TensorBatch batch = TensorBatch.of(column, ids.share())) {
      return ShardCodec.encode(batch);
    }
  }

  private byte[] sampleShard() {
    return shard("ids");
  }

  @Test
  void unknownCommandsAndFlagsPrintUsageAndExitTwo() {
    Run unknown = run("frobnicate");
    assertEquals(2, unknown.code());
    assertTrue(unknown.err().startsWith("rtensor: unknown command 'frobnicate'"), unknown.err());
    assertTrue(unknown.err().contains("usage: ./rtensor"), unknown.err());
    assertTrue(unknown.err().contains("inspect"), "lists the commands: " + unknown.err());
    Run none = run();
    assertEquals(2, none.code());
    assertTrue(none.err().startsWith("usage: ./rtensor"), none.err());
    Run flag = run("inspect", "--bogus");
    assertEquals(2, flag.code());
    assertTrue(flag.err().startsWith("rtensor inspect: Unknown option: '--bogus'"), flag.err());
    assertTrue(flag.err().contains("usage: ./rtensor inspect"), flag.err());
    Run value = run("demo", "--steps", "zero");
    assertEquals(2, value.code());
    assertTrue(value.err().contains("'--steps'") && value.err().contains("zero"), value.err());
    assertTrue(value.err().contains("usage: ./rtensor demo"), value.err());
    assertEquals(2, run("convert", "--bogus", "a", "b").code());
    assertEquals(2, run("convert", "only-in").code());
    assertEquals(2, run("doctor", "--ray-address").code());
    for (String help : List.of("--help", "-h", "help")) {
      Run top = run(help);
      assertEquals(0, top.code(), help);
      assertTrue(top.out().startsWith("usage: ./rtensor"), top.out());
      for (String command : List.of("demo", "doctor", "worker", "inspect", "convert", "bench")) {
        assertTrue(top.out().contains("  " + command + " "), command + " in " + top.out());
      }
    }
    for (String command : List.of("demo", "doctor", "worker", "inspect", "convert", "bench")) {
      Run help = run(command, "--help");
      assertEquals(0, help.code(), command);
      assertTrue(help.out().contains("usage: ./rtensor " + command), help.out());
      if (!command.equals("worker")) { // worker hands --help to the worker's own parser
        assertEquals(help.out(), run("help", command).out(), command);
      }
    }
  }

  @Test
  void inspectDescribesAValidShard(@TempDir Path dir) throws Exception {
    Path shard = dir.resolve("ids.arrows");
    Files.write(shard, sampleShard());
    Run run = run("inspect", shard.toString());
    assertEquals(0, run.code(), run.err());
    assertTrue(run.out().contains("valid shard, 1 column(s), 2 row(s)"), run.out());
    assertTrue(run.out().contains("ids") && run.out().contains("int64"), run.out());
    assertTrue(run.out().contains("48"), "byte count: " + run.out());
  }

  @Test
  void inspectRejectsATruncatedShardWithExitTwoAndOneLine(@TempDir Path dir) throws Exception {
    byte[] bytes = sampleShard();
    Path shard = dir.resolve("cut.arrows");
    Files.write(shard, Arrays.copyOf(bytes, bytes.length - 20));
    Run run = run("inspect", shard.toString());
    assertEquals(2, run.code());
    assertEquals(1, run.err().strip().lines().count(), run.err());
    assertTrue(run.err().startsWith("rtensor inspect: " + shard), run.err());
    assertEquals(2, run("inspect", dir.resolve("missing").toString()).code());
  }

  @Test
  void inspectReadsStandardInput() {
    byte[] shard = sampleShard();
    Run run = runWithInput(new ByteArrayInputStream(shard), "inspect", "-");
    assertEquals(0, run.code(), run.err());
    assertTrue(run.out().startsWith("-: valid shard"), run.out());
    assertTrue(run.out().contains(", " + shard.length + " bytes"), run.out());
  }

  @Test
  void convertRoundTripsNpyFilesOfEveryNumpyDtypeBitForBit(@TempDir Path dir) throws Exception {
    // The script sits in rtensor-ray's test jar: copied out, Python runs it.
    Path script = dir.resolve("npy_all_dtypes.py");
    try (InputStream source = CliTest.class.getResourceAsStream("/python/npy_all_dtypes.py")) {
      Files.copy(source, script);
    }
    PythonEnv.Result made = PythonEnv.run(script, 120, dir.toString());
    assertEquals(0, made.exitCode(), made.output());
    List<Path> files = made.output().lines().map(Path::of).toList();
    assertEquals(45, files.size(), made.output());
    for (Path npy : files) {
      Path shard = dir.resolve(npy.getFileName() + ".arrows");
      Path back = dir.resolve(npy.getFileName() + ".back.npy");
      Run toShard = run("convert", npy.toString(), shard.toString());
      assertEquals(0, toShard.code(), npy + ": " + toShard.err());
      assertEquals(0, run("inspect", shard.toString()).code(), shard.toString());
      Run toNpy = run("convert", shard.toString(), back.toString());
      assertEquals(0, toNpy.code(), shard + ": " + toNpy.err());
      assertArrayEquals(Files.readAllBytes(npy), Files.readAllBytes(back), npy.toString());
    }
  }

  @Test
  void convertRefusesWhatNpyCannotHoldAndLeavesNoOutput(@TempDir Path dir) throws Exception {
    byte[] header = "\u0093NUMPY".getBytes(StandardCharsets.ISO_8859_1);
    String dict = "{'descr': '<V2', 'fortran_order': False, 'shape': (2,), }";
    byte[] npy = new byte[10 + 64 + 4];
    System.arraycopy(header, 0, npy, 0, 6);
    npy[6] = 1;
    npy[8] = 64;
    byte[] text =
        (dict + " ".repeat(63 - dict.length()) + "\n").getBytes(StandardCharsets.ISO_8859_1);
    System.arraycopy(text, 0, npy, 10, 64);
    Path opaque = dir.resolve("bf16.npy");
    Files.write(opaque, npy);
    Path out = dir.resolve("out.arrows");
    Run run = run("convert", opaque.toString(), out.toString());
    assertEquals(2, run.code());
    assertTrue(run.err().contains("bfloat16"), run.err());
    assertFalse(Files.exists(out));

    try (Tensor bf16 =
            Tensor.of(
                allocator,
                io.rtensor.tensor.DType.BFLOAT16,
                new short[] {1, 2},
                io.rtensor.tensor.Shape.of(2));
        TensorBatch batch = TensorBatch.of("h", bf16.share())) {
      Path shard = dir.resolve("bf16.arrows");
      Files.write(shard, ShardCodec.encode(batch));
      Run refused = run("convert", shard.toString(), dir.resolve("h.npy").toString());
      assertEquals(2, refused.code());
      assertTrue(refused.err().contains("no standard .npy dtype"), refused.err());
      assertFalse(Files.exists(dir.resolve("h.npy")));
    }
  }
}
