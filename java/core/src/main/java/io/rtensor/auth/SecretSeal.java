package io.rtensor.auth;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.spec.X509EncodedKeySpec;
import javax.crypto.Cipher;
import javax.crypto.KeyAgreement;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * Hands a secret to a process through a channel that others may read (a Ray actor's call arguments,
 * which Ray keeps in its task table and may log): the receiver makes an X25519 key pair and
 * publishes the public key; the sender seals the secret to it. Only the receiver, whose private key
 * never leaves its process, can open it.
 *
 * <p>Sealed: {@code 0x01 len(2) ephemeralPublicKey nonce(12) AES-256-GCM(secret)}, the AES key
 * {@code HMAC-SHA256(X25519(ephemeral, receiver), "rtensor-seal-v1" ephemeralPublicKey
 * receiverPublicKey)}, the receiver's public key also authenticated as associated data.
 */
public final class SecretSeal {
  private static final byte VERSION = 1;
  private static final byte[] LABEL = "rtensor-seal-v1".getBytes(StandardCharsets.US_ASCII);
  private static final int NONCE_BYTES = 12;

  private SecretSeal() {}

  /** The receiving side: a fresh key pair whose public half is {@link #publicKey}. */
  public static final class Receiver {
    private final KeyPair pair;

    public Receiver() {
      try {
        this.pair = KeyPairGenerator.getInstance("X25519").generateKeyPair();
      } catch (GeneralSecurityException e) {
        throw new IllegalStateException("X25519 is not available", e);
      }
    }

    /** The public key to hand the sender (X.509 encoding). */
    public byte[] publicKey() {
      return pair.getPublic().getEncoded();
    }

    /**
     * Opens what {@link #seal} sealed to this receiver's public key.
     *
     * @throws IllegalArgumentException if it was not sealed to this key or was altered
     */
    public byte[] open(byte[] sealed) {
      try {
        ByteBuffer in = ByteBuffer.wrap(sealed);
        if (in.get() != VERSION) {
          throw new IllegalArgumentException("unknown sealed-secret version");
        }
        byte[] ephemeral = new byte[in.getShort() & 0xffff];
        in.get(ephemeral);
        byte[] nonce = new byte[NONCE_BYTES];
        in.get(nonce);
        byte[] ciphertext = new byte[in.remaining()];
        in.get(ciphertext);
        byte[] mine = publicKey();
        Cipher aes =
            cipher(
                Cipher.DECRYPT_MODE, pair.getPrivate(), decode(ephemeral), ephemeral, mine, nonce);
        return aes.doFinal(ciphertext);
      } catch (GeneralSecurityException | RuntimeException e) {
        throw new IllegalArgumentException("cannot open the sealed secret: " + e.getMessage(), e);
      }
    }
  }

  /** Seals {@code secret} to {@code receiverPublicKey} (from {@link Receiver#publicKey}). */
  public static byte[] seal(byte[] secret, byte[] receiverPublicKey) {
    try {
      PublicKey receiver = decode(receiverPublicKey);
      KeyPair ephemeral = KeyPairGenerator.getInstance("X25519").generateKeyPair();
      byte[] ephemeralPublic = ephemeral.getPublic().getEncoded();
      byte[] nonce = SessionAuth.random(NONCE_BYTES);
      Cipher aes =
          cipher(
              Cipher.ENCRYPT_MODE,
              ephemeral.getPrivate(),
              receiver,
              ephemeralPublic,
              receiverPublicKey,
              nonce);
      byte[] ciphertext = aes.doFinal(secret);
      return ByteBuffer.allocate(3 + ephemeralPublic.length + NONCE_BYTES + ciphertext.length)
          .put(VERSION)
          .putShort((short) ephemeralPublic.length)
          .put(ephemeralPublic)
          .put(nonce)
          .put(ciphertext)
          .array();
    } catch (GeneralSecurityException e) {
      throw new IllegalArgumentException("cannot seal to that public key: " + e.getMessage(), e);
    }
  }

  private static PublicKey decode(byte[] x509) throws GeneralSecurityException {
    return KeyFactory.getInstance("X25519").generatePublic(new X509EncodedKeySpec(x509));
  }

  private static Cipher cipher(
      int mode,
      PrivateKey mine,
      PublicKey theirs,
      byte[] ephemeralPublic,
      byte[] receiverPublic,
      byte[] nonce)
      throws GeneralSecurityException {
    KeyAgreement agreement = KeyAgreement.getInstance("X25519");
    agreement.init(mine);
    agreement.doPhase(theirs, true);
    byte[] key =
        SessionAuth.hmac(agreement.generateSecret(), LABEL, ephemeralPublic, receiverPublic);
    Cipher aes = Cipher.getInstance("AES/GCM/NoPadding");
    aes.init(mode, new SecretKeySpec(key, "AES"), new GCMParameterSpec(128, nonce));
    aes.updateAAD(receiverPublic);
    return aes;
  }
}
