package io.rtensor.engine;

/** An engine that generates (rollout): one per inference instance. */
public interface InferenceEngine extends Engine {}
