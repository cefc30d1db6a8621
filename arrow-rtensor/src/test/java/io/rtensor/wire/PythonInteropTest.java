package io.rtensor.wire;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rtensor.tensor.DType;
import io.rtensor.tensor.Shape;
import io.rtensor.tensor.Tensor;
import io.rtensor.tensor.TensorBatch;
import io.rtensor.tensor.TestTensors;
import io.rtensor.testing.PythonEnv;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Shards cross between this codec and pyarrow in both directions, every dtype and rank 0–4. */
class PythonInteropTest {
  private static final long[][] SHAPES = {
    {}, {5}, {0}, {3, 4}, {2, 0}, {0, 3}, {2, 3, 4}, {2, 1, 0, 3}, {3, 2, 2, 2}, {1, 2, 3, 4, 2}
  };

  private BufferAllocator allocator;

  @BeforeEach
  void open() {
    allocator = new RootAllocator();
  }

  @AfterEach
  void close() {
    allocator.close();
  }

  @Test
  void pyarrowReadsShardsOfEveryDtypeAndRankThatJavaWrites(@TempDir Path dir) throws Exception {
    PythonEnv.python(); // skip or fail before writing anything
    StringBuilder manifest = new StringBuilder("{\"shards\": [\n");
    int seed = 0;
    for (DType dtype : DType.values()) {
      for (int k = 0; k < SHAPES.length; k++) {
        Shape shape = Shape.of(SHAPES[k]);
        Map<String, Tensor> cols = new LinkedHashMap<>();
        cols.put("t", TestTensors.random(allocator, dtype, shape, seed++));
        writeShard(dir, dtype + "_" + k + ".arrow", cols, manifest);
      }
    }
    Map<String, Tensor> mixed = new LinkedHashMap<>();
    mixed.put("input_ids", TestTensors.random(allocator, DType.INT64, Shape.of(4), 1));
    mixed.put("pixels", TestTensors.random(allocator, DType.UINT8, Shape.of(4, 3, 2, 2), 2));
    mixed.put("logprobs", TestTensors.random(allocator, DType.FLOAT32, Shape.of(4, 7), 3));
    mixed.put("mask", TestTensors.random(allocator, DType.BOOL, Shape.of(4, 7), 4));
    mixed.put("hidden", TestTensors.random(allocator, DType.BFLOAT16, Shape.of(4, 2, 3), 5));
    mixed.put("halves", TestTensors.random(allocator, DType.FLOAT16, Shape.of(4, 1), 6));
    writeShard(dir, "mixed.arrow", mixed, manifest);
    manifest.setLength(manifest.length() - 2);
    manifest.append("\n]}\n");
    Files.writeString(dir.resolve("manifest.json"), manifest);

    PythonEnv.Result r = PythonEnv.run(script(), 300, "read", dir.toString());
    assertEquals(0, r.exitCode(), "pyarrow side failed:\n" + r.output());
    assertTrue(
        r.output().contains("read " + (DType.values().length * SHAPES.length + 1) + " shards"),
        r.output());
  }

  private void writeShard(Path dir, String file, Map<String, Tensor> cols, StringBuilder manifest)
      throws IOException {
    List<String> listed = new ArrayList<>();
    int i = 0;
    for (Map.Entry<String, Tensor> e : cols.entrySet()) {
      String raw = file + "." + i++ + ".raw";
      Files.write(dir.resolve(raw), e.getValue().toByteArray());
      listed.add(
          String.format(
              "{\"name\": \"%s\", \"dtype\": \"%s\", \"shape\": %s, \"raw\": \"%s\"}",
              e.getKey(), e.getValue().dtype().numpyName(), e.getValue().shape(), raw));
    }
    try (TensorBatch batch = TensorBatch.of(cols);
        FileChannel ch =
            FileChannel.open(
                dir.resolve(file), StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
      ShardCodec.encode(batch, ch);
    }
    manifest
        .append("{\"file\": \"")
        .append(file)
        .append("\", \"columns\": [")
        .append(String.join(", ", listed))
        .append("]},\n");
  }

  @Test
  void javaDecodesFixedShapeTensorShardsThatPyarrowWrites(@TempDir Path dir) throws Exception {
    PythonEnv.Result r = PythonEnv.run(script(), 300, "write", dir.toString());
    assertEquals(0, r.exitCode(), "pyarrow side failed:\n" + r.output());
    List<String> lines = Files.readAllLines(dir.resolve("manifest.tsv"));
    assertTrue(lines.size() > DType.values().length * 9, "manifest has " + lines.size() + " lines");
    Map<String, List<String[]>> byFile = new LinkedHashMap<>();
    for (String line : lines) {
      String[] f = line.split("\t", -1);
      byFile.computeIfAbsent(f[0], k -> new ArrayList<>()).add(f);
    }
    for (Map.Entry<String, List<String[]>> shard : byFile.entrySet()) {
      byte[] bytes = Files.readAllBytes(dir.resolve(shard.getKey()));
      try (TensorBatch fromBytes = ShardCodec.decode(bytes, allocator);
          FileChannel ch = FileChannel.open(dir.resolve(shard.getKey()));
          TensorBatch fromChannel = ShardCodec.decode(ch, allocator)) {
        ShardCodecTest.assertSameBatch(fromBytes, fromChannel);
        List<String> names = new ArrayList<>(fromBytes.names());
        assertEquals(shard.getValue().size(), names.size(), shard.getKey());
        for (int i = 0; i < names.size(); i++) {
          String[] col = shard.getValue().get(i);
          String where = shard.getKey() + " column " + col[1];
          Tensor t = fromBytes.tensor(names.get(i));
          assertEquals(col[1], names.get(i), where);
          assertEquals(DType.parse(col[2]), t.dtype(), where);
          long[] dims =
              col[3].isEmpty()
                  ? new long[0]
                  : Arrays.stream(col[3].split(",")).mapToLong(Long::parseLong).toArray();
          assertEquals(Shape.of(dims), t.shape(), where);
          assertArrayEquals(Files.readAllBytes(dir.resolve(col[4])), t.toByteArray(), where);
        }
      }
    }
  }

  private static Path script() throws URISyntaxException {
    return Path.of(PythonInteropTest.class.getResource("/python/shard_interop.py").toURI());
  }
}
