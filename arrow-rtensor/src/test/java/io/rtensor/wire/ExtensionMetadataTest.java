package io.rtensor.wire;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rtensor.tensor.DType;
import io.rtensor.tensor.Shape;
import io.rtensor.tensor.Tensor;
import io.rtensor.tensor.TensorBatch;
import io.rtensor.tensor.TensorFields;
import io.rtensor.tensor.TestTensors;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.ipc.ArrowStreamWriter;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.FieldType;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The {@code arrow.fixed_shape_tensor} metadata of a shard is read as strict, bounded JSON: what
 * other writers put there is accepted, hostile text is a {@link WireFormatException} saying what is
 * wrong, never a stack overflow or a large allocation.
 */
class ExtensionMetadataTest {
  private BufferAllocator allocator;

  @BeforeEach
  void open() {
    allocator = new RootAllocator();
  }

  @AfterEach
  void close() {
    allocator.close();
  }

  /** A shard of a [2, 2, 3] float32 tensor whose column carries {@code json} as its metadata. */
  private byte[] shardWithMetadata(String json) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (Tensor t = TestTensors.random(allocator, DType.FLOAT32, Shape.of(2, 2, 3), 5);
        TensorBatch batch = TensorBatch.of("x", t.share());
        VectorSchemaRoot root = batch.toVectorSchemaRoot(allocator)) {
      FieldVector vector = root.getVector(0);
      Field f = vector.getField();
      Map<String, String> meta = new HashMap<>(f.getMetadata());
      meta.put(TensorFields.EXTENSION_METADATA_KEY, json);
      Field changed =
          new Field(
              f.getName(),
              new FieldType(f.isNullable(), f.getType(), f.getDictionary(), meta),
              f.getChildren());
      VectorSchemaRoot relabelled =
          new VectorSchemaRoot(List.of(changed), List.of(vector), root.getRowCount());
      try (ArrowStreamWriter w = new ArrowStreamWriter(relabelled, null, out)) {
        w.start();
        w.writeBatch();
        w.end();
      }
    }
    return out.toByteArray();
  }

  private Shape decodedShape(String json) throws IOException {
    try (TensorBatch b = ShardCodec.decode(shardWithMetadata(json), allocator)) {
      return b.tensor("x").shape();
    }
  }

  private WireFormatException rejects(String json) throws IOException {
    byte[] shard = shardWithMetadata(json);
    return assertThrows(WireFormatException.class, () -> ShardCodec.decode(shard, allocator));
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "{\"shape\":[2,3]}",
        " {\n \"shape\" : [ 2 , 3 ] \n} ",
        "{\"shape\":[2,3],\"dim_names\":[\"C\",\"W\"]}",
        "{\"dim_names\":[\"C\",\"W\"],\"permutation\":[0,1],\"shape\":[2,3]}",
        "{\"shape\":[2,3],\"later\":{\"a\":[1,{\"b\":null}],\"c\":true,\"d\":-1.5e3}}",
        "{\"shape\":[2,3],\"dim_names\":[\"\\u0043\\n\",\"W\"]}"
      })
  void whatOtherWritersPutThereIsAccepted(String json) throws IOException {
    assertEquals(Shape.of(2, 2, 3), decodedShape(json));
  }

  @Test
  void theRefusalsOfTheFormerReaderStand() throws IOException {
    assertTrue(rejects("{\"shape\":[3,2],\"permutation\":[1,0]}").getMessage().contains("permut"));
    assertTrue(
        rejects("{\"shape\":[2.0,3]}").getMessage().contains("\"shape\"[0] is not an integer"));
    assertTrue(rejects("{\"dim_names\":[]}").getMessage().contains("lacks \"shape\""));
    assertTrue(rejects("[2,3]").getMessage().contains("is not a JSON object"));
    assertTrue(rejects("{\"shape\":null}").getMessage().contains("is not a JSON array"));
    assertTrue(rejects("{\"shape\":\"2,3\"}").getMessage().contains("is not a JSON array"));
    assertTrue(rejects("{\"shape\":[2,3]").getMessage().contains("bad arrow.fixed_shape_tensor"));
    assertTrue(rejects("").getMessage().contains("is not a JSON object"));
    assertTrue(
        rejects("{\"shape\":[99999999999999999999,3]}").getMessage().contains("does not fit 64"));
    assertTrue(rejects("{\"shape\":[2,-3]}").getMessage().contains("negative"));
    assertTrue(rejects("{'shape':[2,3]}").getMessage().contains("bad arrow.fixed_shape_tensor"));
  }

  @Test
  void deepNestingIsRefusedAtTheDepthLimit() throws IOException {
    int depth = 25_000;
    String json = "{\"shape\":[2,3],\"dim_names\":" + "[".repeat(depth) + "]".repeat(depth) + "}";
    WireFormatException e = rejects(json);
    assertTrue(e.getMessage().contains("exceeds a limit"), e.getMessage());
    assertTrue(e.getMessage().contains("nesting depth"), e.getMessage());
  }

  @Test
  void aStringOrKeyLongerThanTheLimitIsRefused() throws IOException {
    String atLimit = "{\"shape\":[2,3],\"dim_names\":[\"" + "C".repeat(4096) + "\",\"W\"]}";
    assertEquals(Shape.of(2, 2, 3), decodedShape(atLimit));
    for (int n : new int[] {4097, 5_000, 50_000}) {
      String json = "{\"shape\":[2,3],\"dim_names\":[\"" + "C".repeat(n) + "\",\"W\"]}";
      WireFormatException e = rejects(json);
      assertTrue(e.getMessage().contains("exceeds a limit"), e.getMessage());
      // A long string is refused while it is read, at or soon after the limit, not once built.
      assertTrue(e.getMessage().contains("String value length ("), e.getMessage());
      assertTrue(e.getMessage().contains("exceeds the maximum allowed (4096"), e.getMessage());
    }
    String name = "{\"shape\":[2,3],\"" + "k".repeat(50_000) + "\":1}";
    WireFormatException e = rejects(name);
    assertTrue(e.getMessage().contains("Name length"), e.getMessage());
  }

  @Test
  void aHugeNumberIsRefusedByItsLength() throws IOException {
    WireFormatException e = rejects("{\"shape\":[2," + "3".repeat(5_000) + "]}");
    assertTrue(e.getMessage().contains("Number value length"), e.getMessage());
  }

  @Test
  void aDocumentLongerThanTheLimitIsRefusedUnread() throws IOException {
    String json = "{\"shape\":[2,3]}" + " ".repeat(200_000);
    WireFormatException e = rejects(json);
    assertTrue(e.getMessage().contains("more than the 65536 allowed"), e.getMessage());
  }

  @Test
  void aDuplicateKeyIsRefused() throws IOException {
    WireFormatException e = rejects("{\"shape\":[4,4],\"shape\":[2,3]}");
    assertTrue(e.getMessage().contains("Duplicate field 'shape'"), e.getMessage());
    WireFormatException nested = rejects("{\"shape\":[2,3],\"later\":{\"a\":1,\"a\":2}}");
    assertTrue(nested.getMessage().contains("Duplicate field 'a'"), nested.getMessage());
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "{\"shape\":[2,3]}x",
        "{\"shape\":[2,3]} {\"shape\":[2,3]}",
        "{\"shape\":[2,3]}]",
        "{\"shape\":[2,3]}\u0000"
      })
  void textAfterTheObjectIsRefused(String json) throws IOException {
    WireFormatException e = rejects(json);
    assertTrue(e.getMessage().contains("bad arrow.fixed_shape_tensor metadata"), e.getMessage());
  }

  @Test
  void theColumnReaderItselfRefusesWithoutDeepRecursion() {
    // The public reader is bounded on its own, whatever fed it the text.
    String deep = "{\"shape\":[2,3],\"d\":" + "[".repeat(30_000) + "]".repeat(30_000) + "}";
    Field f =
        TensorFields.field(
            new io.rtensor.tensor.ColumnSpec("x", DType.INT8, Shape.of(2, 3), false));
    Map<String, String> meta = new HashMap<>(f.getMetadata());
    meta.put(TensorFields.EXTENSION_METADATA_KEY, deep);
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> TensorFields.parse("x", f.getType(), f.getChildren().get(0).getType(), meta));
    assertTrue(e.getMessage().contains("nesting depth"), e.getMessage());
  }
}
