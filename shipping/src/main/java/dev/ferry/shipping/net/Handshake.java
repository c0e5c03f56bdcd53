package dev.ferry.shipping.net;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.Objects;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * The mutual HMAC-SHA256 challenge-response over the cluster secret, under the chunk service's
 * label ({@code "ferry-chunk-v1"}); the admin service, served on the chunk service's port, shares
 * it.
 *
 * <pre>
 *   client proof = HMAC(secret, label | 'C' | serverNonce | clientNonce | len | clientId)
 *   server proof = HMAC(secret, label | 'S' | clientNonce | serverNonce | len | clientId
 *                                     | len | serverId)
 * </pre>
 *
 * The label binds a proof to one service, so a proof made for one can never serve another. Fresh
 * 32-byte nonces on both sides make every proof single-use; the role byte and the swapped nonce
 * order keep a proof of one side from ever serving as a proof of the other. Proofs are compared in
 * constant time. Immutable and thread-safe.
 */
public final class Handshake {
  /** Smallest accepted secret. */
  public static final int MIN_SECRET_BYTES = 16;

  /** Largest accepted secret. */
  public static final int MAX_SECRET_BYTES = 1024;

  /** The chunk service's label. */
  public static final String CHUNK_LABEL = "ferry-chunk-v1";

  /** Length of a nonce. */
  public static final int NONCE_BYTES = 32;

  /** Length of a proof. */
  public static final int PROOF_BYTES = 32;

  private static final SecureRandom RANDOM = new SecureRandom();

  private final byte[] label;
  private final SecretKeySpec key;

  /**
   * @param label the service's label, ASCII
   * @param secret the cluster secret (copied), {@value #MIN_SECRET_BYTES} to {@value
   *     #MAX_SECRET_BYTES} bytes
   * @throws IllegalArgumentException if the secret is too short or too long
   */
  public Handshake(String label, byte[] secret) {
    this.label = Objects.requireNonNull(label, "label").getBytes(StandardCharsets.US_ASCII);
    Objects.requireNonNull(secret, "secret");
    if (secret.length < MIN_SECRET_BYTES || secret.length > MAX_SECRET_BYTES) {
      throw new IllegalArgumentException(
          "cluster secret must be "
              + MIN_SECRET_BYTES
              + ".."
              + MAX_SECRET_BYTES
              + " bytes, got "
              + secret.length);
    }
    this.key = new SecretKeySpec(secret.clone(), "HmacSHA256");
  }

  /** A fresh random nonce. */
  public static byte[] nonce() {
    byte[] n = new byte[NONCE_BYTES];
    RANDOM.nextBytes(n);
    return n;
  }

  public byte[] clientProof(byte[] serverNonce, byte[] clientNonce, String clientId) {
    Mac mac = mac();
    mac.update(label);
    mac.update((byte) 'C');
    mac.update(serverNonce);
    mac.update(clientNonce);
    token(mac, clientId);
    return mac.doFinal();
  }

  public byte[] serverProof(
      byte[] clientNonce, byte[] serverNonce, String clientId, String serverId) {
    Mac mac = mac();
    mac.update(label);
    mac.update((byte) 'S');
    mac.update(clientNonce);
    mac.update(serverNonce);
    token(mac, clientId);
    token(mac, serverId);
    return mac.doFinal();
  }

  /** Constant-time comparison of two proofs. */
  public static boolean matches(byte[] expected, byte[] actual) {
    return MessageDigest.isEqual(expected, actual);
  }

  private static void token(Mac mac, String s) {
    byte[] b = s.getBytes(StandardCharsets.UTF_8);
    mac.update((byte) b.length);
    mac.update(b);
    Arrays.fill(b, (byte) 0);
  }

  private Mac mac() {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(key);
      return mac;
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("HmacSHA256 is required by every JDK", e);
    }
  }
}
