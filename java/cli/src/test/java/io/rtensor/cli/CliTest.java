package io.rtensor.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rtensor.tensor.DType;
import io.rtensor.tensor.Shape;
import io.rtensor.tensor.Tensor;
import io.rtensor.tensor.TensorBatch;
import io.rtensor.testing.PythonEnv;
import io.rtensor.wire.ShardCodec;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.PrintStream;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
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

  private record Run(int code, String out, String err) {
    /** Bad input's answer: exit 2, one line on stderr, no stack trace, nothing on stdout. */
    void assertOneLineRefusal(String command, String problem) {
      assertEquals(2, code, err);
      assertEquals(1, err.lines().count(), err);
      assertTrue(err.startsWith("rtensor " + command + ": "), err);
      assertTrue(err.contains(problem), "expected '" + problem + "' in: " + err);
      assertFalse(err.contains("\tat ") || err.contains("Exception"), err);
      assertEquals("", out);
    }
  }

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

  /** A .npy file: a version 1.0 header with {@code descr} and {@code shape}, then data. */
  private static byte[] npy(String descr, String shape, int dataBytes) {
    String dict = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
    byte[] text =
        (dict + " ".repeat(63 - dict.length()) + "\n").getBytes(StandardCharsets.ISO_8859_1);
    byte[] npy = new byte[10 + 64 + dataBytes];
    System.arraycopy("\u0093NUMPY".getBytes(StandardCharsets.ISO_8859_1), 0, npy, 0, 6);
    npy[6] = 1;
    npy[8] = 64;
    System.arraycopy(text, 0, npy, 10, 64);
    return npy;
  }

  /** The names in {@code dir}, to see that a command left no temporary file behind. */
  private static Set<String> names(Path dir) throws Exception {
    try (Stream<Path> files = Files.list(dir)) {
      return Set.copyOf(files.map(p -> p.getFileName().toString()).toList());
    }
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
    run.assertOneLineRefusal("inspect", shard.toString());
    run("inspect", dir.resolve("missing").toString()).assertOneLineRefusal("inspect", "no such");
  }

  @Test
  void inspectReadsStandardInput() {
    byte[] shard = sampleShard();
    Run run = runWithInput(new ByteArrayInputStream(shard), "inspect", "-");
    assertEquals(0, run.code(), run.err());
    assertTrue(run.out().startsWith("-: valid shard"), run.out());
    assertTrue(run.out().contains(", " + shard.length + " bytes"), run.out());
    runWithInput(new ByteArrayInputStream(Arrays.copyOf(shard, 30)), "inspect", "-")
        .assertOneLineRefusal("inspect", "-: ");
  }

  @Test
  void aMissingFileADirectoryOrAnUnreadableFileIsRefusedInOneLine(@TempDir Path dir)
      throws Exception {
    Path out = dir.resolve("out.npy");
    Files.writeString(out, "kept");
    Path missing = dir.resolve("missing.arrows");
    run("inspect", missing.toString()).assertOneLineRefusal("inspect", "no such file");
    run("convert", missing.toString(), out.toString())
        .assertOneLineRefusal("convert", "no such file");

    Path folder = Files.createDirectory(dir.resolve("a-directory"));
    run("inspect", folder.toString()).assertOneLineRefusal("inspect", "is a directory");
    run("convert", folder.toString(), out.toString())
        .assertOneLineRefusal("convert", "is a directory");

    Path locked = dir.resolve("locked.arrows");
    Files.write(locked, sampleShard());
    Files.setPosixFilePermissions(locked, PosixFilePermissions.fromString("---------"));
    if (!Files.isReadable(locked)) { // as root, permissions do not stop a read
      run("inspect", locked.toString()).assertOneLineRefusal("inspect", "permission denied");
      run("convert", locked.toString(), out.toString())
          .assertOneLineRefusal("convert", "permission denied");
    }
    assertEquals("kept", Files.readString(out));
  }

  @Test
  void aFileOverTwoGibIsReadThroughAChannelAndRefusedInOneLine(@TempDir Path dir) throws Exception {
    Path huge = dir.resolve("huge.arrows");
    try (RandomAccessFile file = new RandomAccessFile(huge.toFile(), "rw")) {
      file.setLength(3L << 30); // sparse: no disk
    }
    run("inspect", huge.toString()).assertOneLineRefusal("inspect", huge.toString());
    Path out = dir.resolve("out.npy");
    Files.writeString(out, "kept");
    run("convert", huge.toString(), out.toString())
        .assertOneLineRefusal("convert", huge.toString());

    // A .npy header, then 3 GiB that do not match it: refused before anything is allocated.
    Path hugeNpy = dir.resolve("huge.npy");
    try (RandomAccessFile file = new RandomAccessFile(hugeNpy.toFile(), "rw")) {
      file.write(npy("<i8", "(4,)", 0));
      file.setLength(3L << 30);
    }
    Path shard = dir.resolve("out.arrows");
    Files.writeString(shard, "kept");
    run("convert", hugeNpy.toString(), shard.toString())
        .assertOneLineRefusal("convert", "needs 32");
    assertEquals("kept", Files.readString(out));
    assertEquals("kept", Files.readString(shard));
    assertEquals(Set.of("huge.arrows", "huge.npy", "out.npy", "out.arrows"), names(dir));
  }

  @Test
  void inspectShowsTextFromTheShardEscapedSoItCannotForgeLines(@TempDir Path dir) throws Exception {
    String hostile = "x\nrtensor inspect: all clear\r\u001b[2J\u202e\\n";
    Path shard = dir.resolve("hostile.arrows");
    Files.write(shard, shard(hostile));
    Run run = run("inspect", shard.toString());
    assertEquals(0, run.code(), run.err());
    assertEquals(3, run.out().lines().count(), "summary, header, one column: " + run.out());
    assertTrue(
        run.out().contains("x\\nrtensor inspect: all clear\\r\\u001b[2J\\u202e\\\\n"), run.out());
    assertFalse(run.out().contains("\u001b") || run.out().contains("\r"), run.out());

    // An error that quotes the shard's text is one line too.
    Path out = dir.resolve("out.npy");
    Run missing = run("convert", "--column", "nope", shard.toString(), out.toString());
    missing.assertOneLineRefusal("convert", "has no column 'nope'; columns: 'x\\nrtensor");
    assertFalse(missing.err().contains("\u001b"), missing.err());
    assertFalse(Files.exists(out));
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
    Path opaque = dir.resolve("bf16.npy");
    Files.write(opaque, npy("<V2", "(2,)", 4));
    Path out = dir.resolve("out.arrows");
    Run run = run("convert", opaque.toString(), out.toString());
    run.assertOneLineRefusal("convert", "bfloat16");
    assertFalse(Files.exists(out));

    try (Tensor bf16 = Tensor.of(allocator, DType.BFLOAT16, new short[] {1, 2}, Shape.of(2));
        TensorBatch batch = TensorBatch.of("h", bf16.share())) {
      Path shard = dir.resolve("bf16.arrows");
      Files.write(shard, ShardCodec.encode(batch));
      Run refused = run("convert", shard.toString(), dir.resolve("h.npy").toString());
      refused.assertOneLineRefusal("convert", "no standard .npy dtype");
      assertFalse(Files.exists(dir.resolve("h.npy")));
    }
    assertEquals(Set.of("bf16.npy", "bf16.arrows"), names(dir));
  }

  @Test
  void aFailedConvertLeavesAnExistingOutAsItWas(@TempDir Path dir) throws Exception {
    byte[] kept = "the previous OUT".getBytes(StandardCharsets.UTF_8);
    Path shardOut = dir.resolve("out.arrows");
    Path npyOut = dir.resolve("out.npy");
    Files.write(shardOut, kept);
    Files.write(npyOut, kept);

    Map<String, byte[]> bad = new LinkedHashMap<>();
    bad.put("object.npy", npy("|O", "(2,)", 16)); // object dtype
    bad.put("short.npy", npy("<i8", "(4,)", 16)); // truncated data
    bad.put("bf16.npy", npy("<V2", "(2,)", 4)); // refused bfloat16
    for (Map.Entry<String, byte[]> e : bad.entrySet()) {
      Path in = dir.resolve(e.getKey());
      Files.write(in, e.getValue());
      Run run = run("convert", in.toString(), shardOut.toString());
      run.assertOneLineRefusal("convert", in.toString());
      assertArrayEquals(kept, Files.readAllBytes(shardOut), e.getKey());
    }
    try (Tensor bf16 = Tensor.of(allocator, DType.BFLOAT16, new short[] {1, 2}, Shape.of(2));
        TensorBatch batch = TensorBatch.of("h", bf16.share())) {
      Path shard = dir.resolve("bf16.arrows");
      Files.write(shard, ShardCodec.encode(batch));
      run("convert", shard.toString(), npyOut.toString())
          .assertOneLineRefusal("convert", "no standard .npy dtype");
    }
    byte[] whole = sampleShard();
    Path cut = dir.resolve("cut.arrows");
    Files.write(cut, Arrays.copyOf(whole, whole.length - 20));
    run("convert", cut.toString(), npyOut.toString()).assertOneLineRefusal("convert", "cut");
    assertArrayEquals(kept, Files.readAllBytes(npyOut));
    assertArrayEquals(kept, Files.readAllBytes(shardOut));

    // A good conversion replaces OUT whole, and leaves no temporary file either.
    Path good = dir.resolve("ids.arrows");
    Files.write(good, whole);
    assertEquals(0, run("convert", good.toString(), npyOut.toString()).code());
    assertEquals(0, run("convert", npyOut.toString(), shardOut.toString()).code());
    assertEquals(0, run("inspect", shardOut.toString()).code());
    assertEquals(
        Set.of(
            "out.arrows",
            "out.npy",
            "object.npy",
            "short.npy",
            "bf16.npy",
            "bf16.arrows",
            "cut.arrows",
            "ids.arrows"),
        names(dir));
  }

  @Test
  void convertRefusesToWriteOverItsOwnInput(@TempDir Path dir) throws Exception {
    byte[] bytes = sampleShard();
    Path shard = dir.resolve("ids.arrows");
    Files.write(shard, bytes);
    Path link = Files.createSymbolicLink(dir.resolve("link.npy"), shard);
    for (Path out : List.of(shard, link, dir.resolve(".").resolve("ids.arrows"))) {
      run("convert", shard.toString(), out.toString())
          .assertOneLineRefusal("convert", "the same file");
      assertArrayEquals(bytes, Files.readAllBytes(shard), out.toString());
    }
    assertTrue(Files.isSymbolicLink(link));
  }
}
