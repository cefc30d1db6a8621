package io.rtensor.testing.engines;

import io.rtensor.handle.RTensor;

/** A client-side view of {@link TensorEngine}: handles in, handles and numbers out. */
public interface TensorApi {
  RTensor produce(int rows);

  long sumTokens(RTensor batch);
}
