package io.rtensor.engine;

/** An engine that trains: one per data-parallel training rank. */
public interface TrainEngine extends Engine {}
