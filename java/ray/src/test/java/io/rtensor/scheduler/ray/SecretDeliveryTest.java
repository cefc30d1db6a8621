package io.rtensor.scheduler.ray;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.rtensor.auth.SecretSeal;
import io.rtensor.auth.SessionTls;
import io.rtensor.runtime.SessionSecret;
import org.junit.jupiter.api.Test;

/** What the scheduler seals to a Flight actor, and what the actor reads back (no cluster). */
class SecretDeliveryTest {

  @Test
  void theSecretAloneOrWithTheSessionsTlsIdentityIsSealedAndReadBack() {
    SessionSecret secret = SessionSecret.generate();
    SessionTls tls = SessionTls.generate();
    SecretSeal.Receiver actor = new SecretSeal.Receiver();

    SecretDelivery.Opened plain =
        SecretDelivery.read(
            actor.open(SecretSeal.seal(SecretDelivery.payload(secret, null), actor.publicKey())));
    assertEquals(secret.value(), plain.secret().value());
    assertNull(plain.tls());

    SecretDelivery.Opened withTls =
        SecretDelivery.read(
            actor.open(SecretSeal.seal(SecretDelivery.payload(secret, tls), actor.publicKey())));
    assertEquals(secret.value(), withTls.secret().value());
    assertEquals(tls.certificate(), withTls.tls().certificate());
    assertEquals(tls.privateKey(), withTls.tls().privateKey());
  }
}
