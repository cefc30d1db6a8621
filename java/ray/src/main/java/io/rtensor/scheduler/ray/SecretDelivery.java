package io.rtensor.scheduler.ray;

import io.ray.api.ActorHandle;
import io.ray.api.ObjectRef;
import io.ray.api.exception.RayActorException;
import io.rtensor.auth.SecretSeal;
import io.rtensor.auth.SessionTls;
import io.rtensor.runtime.SessionSecret;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Hands the session secret (and the session's Flight TLS key and certificate, when it has them) to
 * a Flight worker's actor without writing it where others can read it.
 *
 * <p>Ray 2.39 writes an actor's runtime env, environment variables included, to {@code
 * logs/runtime_env_agent.log} of the session (mode 0644 in 0777 directories, kept after the head
 * stops), and call arguments travel in task specifications that Ray stores and may log; so neither
 * may carry the secret. Instead the actor makes an X25519 key pair when it starts and returns its
 * public key ({@link RayRpcServer#sealingKey}); the scheduler seals the secret to it ({@link
 * SecretSeal}) and passes the sealed bytes ({@link RayRpcServer#provision}), which only that actor
 * can open. The actor's calls wait until it holds the secret.
 *
 * <p>Delivery runs in the background, so actors start concurrently; the first ping waits for it.
 */
final class SecretDelivery {
  private static final Logger log = LoggerFactory.getLogger(SecretDelivery.class);
  private static final AtomicInteger THREADS = new AtomicInteger();
  private static final ExecutorService EXECUTOR =
      Executors.newCachedThreadPool(
          r -> {
            Thread t = new Thread(r, "rtensor-secret-delivery-" + THREADS.incrementAndGet());
            t.setDaemon(true);
            return t;
          });

  private SecretDelivery() {}

  /**
   * What is sealed: the secret, then, when the session's Flight runs over TLS, a newline and its
   * TLS identity ({@link SessionTls#encode()}, key included).
   */
  static byte[] payload(SessionSecret secret, SessionTls tls) {
    String text = tls == null ? secret.value() : secret.value() + "\n" + tls.encode();
    return text.getBytes(StandardCharsets.UTF_8);
  }

  /** What an actor opened: the session secret and its TLS identity (null: plaintext). */
  record Opened(SessionSecret secret, SessionTls tls) {}

  /** Reads what {@link #payload} wrote. */
  static Opened read(byte[] payload) {
    String text = new String(payload, StandardCharsets.UTF_8);
    int newline = text.indexOf('\n');
    return newline < 0
        ? new Opened(SessionSecret.of(text), null)
        : new Opened(
            SessionSecret.of(text.substring(0, newline)),
            SessionTls.decode(text.substring(newline + 1)));
  }

  /**
   * Asks {@code actor} (just created) for its sealing key and hands it the sealed secret, each step
   * waiting at most {@code timeout}.
   */
  static void deliver(
      ActorHandle<RayRpcServer> actor,
      String name,
      SessionSecret secret,
      SessionTls tls,
      Duration timeout) {
    ObjectRef<byte[]> key = actor.task(RayRpcServer::sealingKey).remote();
    byte[] payload = payload(secret, tls);
    EXECUTOR.execute(
        () -> {
          try {
            byte[] sealed = SecretSeal.seal(payload, key.get(timeout.toMillis()));
            actor.task(RayRpcServer::provision, sealed).remote().get(timeout.toMillis());
          } catch (RayActorException e) {
            log.debug("actor {} died before it got the session secret: {}", name, e.toString());
          } catch (RuntimeException e) {
            log.warn("could not hand the session secret to actor {}: {}", name, e.toString());
          }
        });
  }
}
