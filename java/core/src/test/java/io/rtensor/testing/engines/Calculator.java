package io.rtensor.testing.engines;

import java.util.concurrent.CompletableFuture;

/** A client-side view of {@link EchoEngine}'s methods, for typed proxies. */
public interface Calculator {
  int add(int a, int b);

  String add(String a, String b);

  long pid();

  CompletableFuture<Object> later(int value);

  void fail(String message);
}
