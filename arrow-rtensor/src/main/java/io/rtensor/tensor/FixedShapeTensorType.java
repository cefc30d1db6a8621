package io.rtensor.tensor;

import java.util.Objects;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.util.hash.ArrowBufHasher;
import org.apache.arrow.vector.ExtensionTypeVector;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.complex.FixedSizeListVector;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.ExtensionTypeRegistry;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.FieldType;

/**
 * Arrow's canonical extension type {@code arrow.fixed_shape_tensor} for Arrow Java's vector API
 * (Arrow Java 19 does not ship one). The codec does not need it: shards carry the extension as
 * field metadata on a fixed-size list, which readers without the type see as a plain list. Call
 * {@link #register()} so Arrow Java's own readers (stream reader, Flight) hand such columns out as
 * {@link Vector}s; {@link TensorBatch#fromVectorSchemaRoot} accepts both forms.
 *
 * <p>The value type is the storage list's child field, not a parameter: Arrow Java deserializes an
 * extension type from its storage type alone, which for a list does not include the child. Permuted
 * tensors ({@code permutation} in the metadata) are not supported.
 */
public final class FixedShapeTensorType extends ArrowType.ExtensionType {
  private final Shape rowShape;

  /** The type of a column whose rows have shape {@code rowShape}. */
  public FixedShapeTensorType(Shape rowShape) {
    this.rowShape = Objects.requireNonNull(rowShape, "rowShape");
    if (rowShape.numel() > Integer.MAX_VALUE) {
      throw new IllegalArgumentException("row shape " + rowShape + " exceeds 2^31 elements");
    }
  }

  /** Registers the type with Arrow Java's {@link ExtensionTypeRegistry}; idempotent. */
  public static void register() {
    ExtensionTypeRegistry.register(new FixedShapeTensorType(Shape.of(1)));
  }

  /** The shape of one row (the tensor shape without dimension 0). */
  public Shape rowShape() {
    return rowShape;
  }

  @Override
  public ArrowType storageType() {
    return new ArrowType.FixedSizeList((int) rowShape.numel());
  }

  @Override
  public String extensionName() {
    return TensorFields.FIXED_SHAPE_TENSOR;
  }

  @Override
  public boolean extensionEquals(ArrowType.ExtensionType other) {
    return other instanceof FixedShapeTensorType t && t.rowShape.equals(rowShape);
  }

  @Override
  public String serialize() {
    return TensorFields.shapeJson(rowShape);
  }

  @Override
  public ArrowType deserialize(ArrowType storageType, String serializedData) {
    if (!(storageType instanceof ArrowType.FixedSizeList list)) {
      throw new IllegalArgumentException(
          TensorFields.FIXED_SHAPE_TENSOR + " needs fixed-size list storage, got " + storageType);
    }
    Shape shape = TensorFields.parseShapeJson("?", serializedData);
    if (shape.numel() != list.getListSize()) {
      throw new IllegalArgumentException(
          "shape " + shape + " does not fill a list of " + list.getListSize());
    }
    return new FixedShapeTensorType(shape);
  }

  @Override
  public FieldVector getNewVector(String name, FieldType fieldType, BufferAllocator allocator) {
    FieldType storage =
        new FieldType(fieldType.isNullable(), storageType(), null, fieldType.getMetadata());
    return new Vector(
        new Field(name, fieldType, null),
        allocator,
        new FixedSizeListVector(name, allocator, storage, null));
  }

  /** A column of fixed-shape tensors over a {@link FixedSizeListVector}. */
  public static final class Vector extends ExtensionTypeVector<FixedSizeListVector> {
    private final Field field;

    Vector(Field field, BufferAllocator allocator, FixedSizeListVector storage) {
      super(field, allocator, storage);
      this.field = field;
    }

    @Override
    public Object getObject(int index) {
      return getUnderlyingVector().getObject(index);
    }

    @Override
    public int hashCode(int index) {
      return getUnderlyingVector().hashCode(index);
    }

    @Override
    public int hashCode(int index, ArrowBufHasher hasher) {
      return getUnderlyingVector().hashCode(index, hasher);
    }

    @Override
    public Field getField() {
      return new Field(
          field.getName(), field.getFieldType(), getUnderlyingVector().getField().getChildren());
    }
  }
}
