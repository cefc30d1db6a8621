package io.rtensor.transport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rtensor.auth.SessionTls;
import io.rtensor.handle.RTensor;
import io.rtensor.runtime.SessionSecret;
import io.rtensor.tensor.Tensor;
import io.rtensor.tensor.TensorBatch;
import io.rtensor.testing.FlightWorkerProcess;
import io.rtensor.testing.PythonEnv;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.junit.jupiter.api.Test;

/**
 * TLS on the Flight data plane: a session's servers present its certificate, its clients trust only
 * that; plaintext and other sessions' clients are refused with a typed error, promptly.
 */
class FlightTlsTest {
  private static final String SECRET = SessionSecret.generate().value();
  private static final SessionTls TLS = SessionTls.generate();

  /** A shard put to a TLS store, and its handle. */
  private record Stored(RTensor handle, Tensor tensor) {}

  private static Stored put(BufferAllocator root, FlightDataPlane producer) {
    Tensor t = Tensor.of(root, new float[] {1f, 2f, 3f, 4f});
    try (TensorBatch batch = TensorBatch.of(RTensor.TENSOR_COLUMN, t.share())) {
      return new Stored(producer.put(batch), t);
    }
  }

  @Test
  void theSessionCertificateIsSelfSignedForTheSessionNameAndSurvivesEncoding() throws Exception {
    X509Certificate cert = TLS.certificate();
    cert.verify(cert.getPublicKey());
    cert.checkValidity();
    assertEquals("EC", cert.getPublicKey().getAlgorithm());
    assertEquals(
        List.of(2, SessionTls.SERVER_NAME),
        List.copyOf(cert.getSubjectAlternativeNames().iterator().next()));
    SessionTls back = SessionTls.decode(TLS.encode());
    assertEquals(cert, back.certificate());
    assertEquals(TLS.privateKey(), back.privateKey());
    SessionTls trust = SessionTls.decode(TLS.trustOnly().encode());
    assertFalse(trust.hasKey());
    assertEquals(cert, trust.certificate());
    assertFalse(TLS.toString().contains(TLS.encode().substring(6, 30)));
    assertNotEquals(cert, SessionTls.generate().certificate(), "a fresh key per session");
    try (RootAllocator root = new RootAllocator()) {
      assertThrows(
          IllegalArgumentException.class,
          () -> FlightShardServer.builder(root, SECRET).tls(TLS.trustOnly()));
    }
  }

  @Test
  void aTlsStoreIsFetchedByATlsClientThatHoldsOnlyTheCertificate() throws Exception {
    try (RootAllocator root = new RootAllocator();
        FlightShardServer server = FlightShardServer.builder(root, SECRET).tls(TLS).start();
        FlightDataPlane producer =
            FlightDataPlane.builder(root, SECRET).localServer(server).tls(TLS).build();
        FlightDataPlane consumer =
            FlightDataPlane.builder(root, SECRET).tls(TLS.trustOnly()).build()) {
      Stored s = put(root, producer);
      try (Tensor t = s.tensor();
          TensorBatch back = consumer.fetch(List.of(s.handle()), root).get(s.handle().shardId())) {
        assertTrue(back.tensor(RTensor.TENSOR_COLUMN).contentEquals(t));
      }
      assertEquals(1, consumer.stats(server.address()).entries());
      assertEquals(1, consumer.clear(server.address(), List.of(s.handle().shardId())).cleared());
    }
  }

  @Test
  void largeShardsCrossTls() throws Exception {
    try (RootAllocator root = new RootAllocator();
        FlightShardServer server = FlightShardServer.builder(root, SECRET).tls(TLS).start();
        FlightDataPlane producer =
            FlightDataPlane.builder(root, SECRET).localServer(server).tls(TLS).build();
        FlightDataPlane consumer = FlightDataPlane.builder(root, SECRET).tls(TLS).build()) {
      float[] values = new float[(8 << 20) / 4];
      for (int i = 0; i < values.length; i++) {
        values[i] = i * 0.5f;
      }
      RTensor h1;
      RTensor h2;
      try (Tensor t = Tensor.of(root, values);
          TensorBatch batch = TensorBatch.of(RTensor.TENSOR_COLUMN, t.share())) {
        h1 = producer.put(batch);
        h2 = producer.put(batch);
        Map<String, TensorBatch> back = consumer.fetch(List.of(h1, h2), root);
        for (TensorBatch b : back.values()) {
          try (b) {
            assertTrue(b.tensor(RTensor.TENSOR_COLUMN).contentEquals(t));
          }
        }
        assertEquals(2, back.size());
      }
      // A TLS client puts too (the controller's path).
      try (FlightDataPlane putter =
              FlightDataPlane.builder(root, SECRET).putTarget(server.address()).tls(TLS).build();
          Tensor t = Tensor.of(root, new float[] {7f})) {
        RTensor h = (RTensor) Remotizer.remotize(t, putter);
        assertTrue(server.holds(h.shardId()));
      }
    }
  }

  @Test
  void aPlaintextClientOfATlsServerFailsWithATypedErrorNotAHang() throws Exception {
    try (RootAllocator root = new RootAllocator();
        FlightShardServer server = FlightShardServer.builder(root, SECRET).tls(TLS).start();
        FlightDataPlane producer =
            FlightDataPlane.builder(root, SECRET).localServer(server).tls(TLS).build();
        FlightDataPlane plaintext = FlightDataPlane.builder(root, SECRET).build()) {
      Stored s = put(root, producer);
      try (Tensor ignored = s.tensor()) {
        DataPlaneTlsException e =
            assertTimeoutPreemptively(
                Duration.ofSeconds(30),
                () ->
                    assertThrows(
                        DataPlaneTlsException.class,
                        () -> plaintext.fetch(List.of(s.handle()), root)));
        System.out.println("[tls] plaintext client: " + e);
        assertTrue(e.getMessage().contains(server.address()), e.getMessage());
      }
    }
  }

  @Test
  void aClientTrustingAnotherSessionsCertificateIsRefused() throws Exception {
    try (RootAllocator root = new RootAllocator();
        FlightShardServer server = FlightShardServer.builder(root, SECRET).tls(TLS).start();
        FlightDataPlane producer =
            FlightDataPlane.builder(root, SECRET).localServer(server).tls(TLS).build();
        FlightDataPlane stranger =
            FlightDataPlane.builder(root, SECRET).tls(SessionTls.generate().trustOnly()).build()) {
      Stored s = put(root, producer);
      try (Tensor ignored = s.tensor()) {
        DataPlaneTlsException e =
            assertTimeoutPreemptively(
                Duration.ofSeconds(30),
                () ->
                    assertThrows(
                        DataPlaneTlsException.class,
                        () -> stranger.fetch(List.of(s.handle()), root)));
        System.out.println("[tls] other session's certificate: " + e);
      }
    }
  }

  @Test
  void aTlsClientOfAPlaintextServerFailsWithATypedError() throws Exception {
    try (RootAllocator root = new RootAllocator();
        FlightShardServer server = FlightShardServer.builder(root, SECRET).start();
        FlightDataPlane producer =
            FlightDataPlane.builder(root, SECRET).localServer(server).build();
        FlightDataPlane tls = FlightDataPlane.builder(root, SECRET).tls(TLS).build()) {
      Stored s = put(root, producer);
      try (Tensor ignored = s.tensor()) {
        DataPlaneTlsException e =
            assertTimeoutPreemptively(
                Duration.ofSeconds(30),
                () ->
                    assertThrows(
                        DataPlaneTlsException.class, () -> tls.fetch(List.of(s.handle()), root)));
        System.out.println("[tls] TLS client of a plaintext server: " + e);
      }
    }
  }

  @Test
  void pyarrowReadsAShardOverTlsTrustingTheSessionCertificate() throws Exception {
    Path script = Path.of(FlightTlsTest.class.getResource("/python/flight_fetch.py").toURI());
    PythonEnv.python();
    Path pem = Files.createTempFile("rtensor-session", ".pem");
    try (FlightWorkerProcess worker = FlightWorkerProcess.start(SECRET, TLS);
        RootAllocator root = new RootAllocator();
        FlightDataPlane plane =
            FlightDataPlane.builder(root, SECRET).putTarget(worker.address()).tls(TLS).build()) {
      Files.writeString(pem, TLS.certificatePem()); // the certificate is public
      int n = 1000;
      float[] values = new float[n];
      for (int i = 0; i < n; i++) {
        values[i] = i * 0.25f;
      }
      RTensor h;
      try (Tensor t = Tensor.of(root, values)) {
        h = (RTensor) Remotizer.remotize(t, plane);
      }
      PythonEnv.Result result =
          PythonEnv.run(
              script,
              Map.of(SessionSecret.ENV, SECRET, "RTENSOR_TLS_ROOT_CERT", pem.toString()),
              120,
              worker.address(),
              h.shardId(),
              Integer.toString(n));
      assertEquals(0, result.exitCode(), result.output());
      assertTrue(result.output().contains("OK 1000 values"), result.output());
      assertTrue(result.output().contains("over TLS"), result.output());
    } finally {
      Files.deleteIfExists(pem);
    }
  }
}
