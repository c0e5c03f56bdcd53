package dev.ferry.statemachine.internal;

import dev.ferry.snapshot.ChunkId;
import java.security.MessageDigest;

/**
 * The digest element of one state record: SHA-256 of {@code 0x01, keyLength:u32, key, value}. The
 * domain byte keeps records apart from sessions; the key length keeps (key, value) splits apart.
 */
public final class RecordDigest {
  static final byte DOMAIN = 0x01;

  /**
   * One digest per thread: {@code MessageDigest.getInstance} costs a provider lookup and a
   * reflective construction, far more than hashing a small record (this runs once per applied
   * change and once per loaded record). {@code digest()} resets it.
   */
  private static final ThreadLocal<MessageDigest> SHA = ThreadLocal.withInitial(ChunkId::sha256);

  private RecordDigest() {}

  /** The 32-byte element hash of a record. Thread-safe. */
  public static byte[] hash(byte[] key, byte[] value) {
    MessageDigest sha = SHA.get();
    sha.update(DOMAIN);
    int n = key.length;
    sha.update((byte) (n >>> 24));
    sha.update((byte) (n >>> 16));
    sha.update((byte) (n >>> 8));
    sha.update((byte) n);
    sha.update(key);
    sha.update(value);
    return sha.digest();
  }
}
