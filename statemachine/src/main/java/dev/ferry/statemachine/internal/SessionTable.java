package dev.ferry.statemachine.internal;

import dev.ferry.snapshot.ChunkId;
import dev.ferry.snapshot.StateDigest;
import dev.ferry.statemachine.ClientId;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The replicated table of client sessions: for each client, the replies it has not acknowledged
 * yet, keyed by sequence number, and the log index it was last active at.
 *
 * <p>Invariants: every change goes through the apply thread; the table's contribution to the state
 * digest is the sum of {@link #elementHash} over all sessions and is kept up to date by the caller
 * through the returned deltas. Expiry depends only on log indices, so every replica expires the
 * same sessions at the same index.
 *
 * <p>Concurrency: confined to the apply thread; {@link #encode} produces an independent copy.
 */
public final class SessionTable {
  /** Domain byte that keeps session elements apart from state records in the digest. */
  static final byte DIGEST_DOMAIN = 0x02;

  /** Domain byte of the pending membership change in the digest. */
  static final byte MEMBERSHIP_DOMAIN = 0x03;

  /** Tag of the optional trailing section that holds the pending membership change. */
  private static final int MEMBERSHIP_TAG = 1;

  private static final int MAX_MEMBERSHIP_BYTES = 4096;

  private static final Comparator<ClientId> ORDER =
      Comparator.comparingLong(ClientId::high).thenComparingLong(ClientId::low);

  /** One client's session. Mutable, owned by the table. */
  public static final class Session {
    long lastIndex;
    long firstUnacked = 1;
    final TreeMap<Long, byte[]> replies = new TreeMap<>();

    /** The stored reply to {@code seq}, or null. */
    public byte[] reply(long seq) {
      return replies.get(seq);
    }

    /** The lowest sequence number whose reply the client has not acknowledged. */
    public long firstUnacked() {
      return firstUnacked;
    }

    /** How many replies are kept. */
    public int outstanding() {
      return replies.size();
    }
  }

  private final Map<ClientId, Session> sessions = new HashMap<>();
  private byte[] membership;

  /** The encoded pending membership change, or null. */
  public byte[] membership() {
    return membership;
  }

  /**
   * Replaces the pending membership change ({@code null}: none).
   *
   * @return {@code digest} with the old change's element replaced by the new one's
   */
  public StateDigest membership(byte[] encoded, StateDigest digest) {
    if (membership != null) {
      digest = digest.minus(membershipHash(membership));
    }
    membership = encoded == null ? null : encoded.clone();
    if (membership != null) {
      digest = digest.plus(membershipHash(membership));
    }
    return digest;
  }

  /** SHA-256 of the encoded change, prefixed by the membership domain byte. */
  static byte[] membershipHash(byte[] encoded) {
    var sha = ChunkId.sha256();
    sha.update(MEMBERSHIP_DOMAIN);
    return sha.digest(encoded);
  }

  /** The session of {@code client}, or null. */
  public Session get(ClientId client) {
    return sessions.get(client);
  }

  /** How many sessions are open. */
  public int size() {
    return sessions.size();
  }

  /** Opens a session (the caller checked none exists) active at {@code index}. */
  public Session open(ClientId client, long index) {
    Session s = new Session();
    s.lastIndex = index;
    sessions.put(client, s);
    return s;
  }

  /**
   * Forgets the replies the client acknowledged (those below {@code firstUnacked}) and records
   * activity at {@code index}.
   */
  public void acknowledge(Session s, long firstUnacked, long index) {
    if (firstUnacked > s.firstUnacked) {
      s.firstUnacked = firstUnacked;
      s.replies.headMap(firstUnacked, false).clear();
    }
    s.lastIndex = index;
  }

  /** Records the reply to {@code seq}. */
  public void record(Session s, long seq, byte[] reply) {
    s.replies.put(seq, reply);
  }

  /**
   * Removes sessions idle for more than {@code idleEntries} log entries at {@code index}.
   *
   * @return the digest with the removed sessions subtracted
   */
  public StateDigest expire(long index, long idleEntries, StateDigest digest) {
    List<ClientId> idle = new ArrayList<>();
    for (Map.Entry<ClientId, Session> e : sessions.entrySet()) {
      if (index - e.getValue().lastIndex > idleEntries) {
        idle.add(e.getKey());
      }
    }
    for (ClientId c : idle) {
      digest = digest.minus(elementHash(c, sessions.remove(c)));
    }
    return digest;
  }

  /** The digest of the whole table, computed from scratch. */
  public StateDigest digest() {
    StateDigest d = StateDigest.EMPTY;
    for (Map.Entry<ClientId, Session> e : sessions.entrySet()) {
      d = d.plus(elementHash(e.getKey(), e.getValue()));
    }
    if (membership != null) {
      d = d.plus(membershipHash(membership));
    }
    return d;
  }

  /** SHA-256 of the session's canonical encoding, prefixed by the session domain byte. */
  public static byte[] elementHash(ClientId client, Session s) {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (DataOutputStream out = new DataOutputStream(bytes)) {
      out.writeByte(DIGEST_DOMAIN);
      writeSession(out, client, s);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return ChunkId.sha256().digest(bytes.toByteArray());
  }

  /**
   * The table's canonical encoding: sessions in client-id order, then, if a membership change is
   * pending, {@code u8 1, u32 length, change}. Deterministic.
   */
  public byte[] encode() {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (DataOutputStream out = new DataOutputStream(bytes)) {
      List<ClientId> clients = new ArrayList<>(sessions.keySet());
      clients.sort(ORDER);
      out.writeInt(clients.size());
      for (ClientId c : clients) {
        writeSession(out, c, sessions.get(c));
      }
      if (membership != null) {
        out.writeByte(MEMBERSHIP_TAG);
        out.writeInt(membership.length);
        out.write(membership);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return bytes.toByteArray();
  }

  /**
   * Decodes a table written by {@link #encode}.
   *
   * @throws IOException if the bytes are malformed
   */
  public static SessionTable decode(InputStream in, int maxReplyBytes) throws IOException {
    DataInputStream data = new DataInputStream(in);
    SessionTable t = new SessionTable();
    int n = data.readInt();
    if (n < 0) {
      throw new IOException("negative session count " + n);
    }
    for (int i = 0; i < n; i++) {
      ClientId c = new ClientId(data.readLong(), data.readLong());
      Session s = new Session();
      s.lastIndex = data.readLong();
      s.firstUnacked = data.readLong();
      int replies = data.readInt();
      if (replies < 0) {
        throw new IOException("negative reply count " + replies);
      }
      for (int r = 0; r < replies; r++) {
        long seq = data.readLong();
        int len = data.readInt();
        if (len < 0 || len > maxReplyBytes) {
          throw new IOException("reply length out of range: " + len);
        }
        s.replies.put(seq, data.readNBytes(len));
      }
      if (t.sessions.put(c, s) != null) {
        throw new IOException("duplicate session " + c);
      }
    }
    int tag = data.read();
    if (tag == MEMBERSHIP_TAG) {
      int len = data.readInt();
      if (len < 1 || len > MAX_MEMBERSHIP_BYTES) {
        throw new IOException("membership change length out of range: " + len);
      }
      t.membership = data.readNBytes(len);
      if (t.membership.length != len) {
        throw new IOException("truncated membership change");
      }
      tag = data.read();
    }
    if (tag != -1) {
      throw new IOException("trailing bytes after session table");
    }
    return t;
  }

  private static void writeSession(DataOutputStream out, ClientId c, Session s) throws IOException {
    out.writeLong(c.high());
    out.writeLong(c.low());
    out.writeLong(s.lastIndex);
    out.writeLong(s.firstUnacked);
    out.writeInt(s.replies.size());
    for (Map.Entry<Long, byte[]> r : s.replies.entrySet()) {
      out.writeLong(r.getKey());
      out.writeInt(r.getValue().length);
      out.write(r.getValue());
    }
  }
}
