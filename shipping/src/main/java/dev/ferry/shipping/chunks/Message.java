package dev.ferry.shipping.chunks;

import dev.ferry.snapshot.ChunkId;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Locale;

/**
 * The decoded frames of the chunk protocol (see {@link MessageCodec} for the layout). Byte arrays
 * are owned by the message and not copied again.
 */
sealed interface Message {

  /** The name of the frame type as the protocol documents it ({@code LIST_MANIFESTS}), for logs. */
  default String name() {
    return getClass()
        .getSimpleName()
        .replaceAll("([a-z])([A-Z])", "$1_$2")
        .toUpperCase(Locale.ROOT);
  }

  // ----- handshake -----

  /** Server → client, first frame: protocol version and the server's nonce. */
  record Hello(int version, byte[] nonce) implements Message {}

  /** Client → server: version, the client's nonce and node id, and its proof of the secret. */
  record Auth(int version, byte[] nonce, String clientId, byte[] mac) implements Message {}

  /** Server → client: the client is accepted; the server's node id and proof of the secret. */
  record AuthOk(String serverId, byte[] mac) implements Message {}

  /** Server → client: the client is refused; the connection closes after this frame. */
  record Refused(String reason) implements Message {}

  // ----- requests (client → server) -----

  /** A request; the response echoes its id. */
  sealed interface Request extends Message {
    long requestId();
  }

  /**
   * Names the group whose chunks this connection's later requests are about; the first request of a
   * connection or not sent at all. Answered {@link Ok}, or {@link Error} when the group is not
   * hosted here (the connection stays bound to it either way).
   */
  record SelectGroup(long requestId, String group) implements Request {}

  /** Lists the manifests at or after {@code minIndex}. */
  record ListManifests(long requestId, long minIndex) implements Request {}

  /** Asks for the encoded manifest at {@code index}. */
  record GetManifest(long requestId, long index) implements Request {}

  /** Asks for chunks, answered one {@link ChunkData} or {@link Missing} per id, in order. */
  record Fetch(long requestId, List<ChunkId> ids, boolean raw) implements Request {}

  /** Pins the manifest at {@code index} for {@code ttlMillis}. */
  record Pin(long requestId, long index, long ttlMillis) implements Request {}

  /** Extends a lease to now + {@code ttlMillis}. */
  record Renew(long requestId, long leaseId, long ttlMillis) implements Request {}

  /** Ends a lease. */
  record Unpin(long requestId, long leaseId) implements Request {}

  /**
   * Tells the server that chunks it sent failed verification here; answered {@link Ok} once the
   * server has re-verified them (it quarantines only those its own bytes condemn).
   */
  record CorruptReport(long requestId, List<ChunkId> ids) implements Request {}

  /** An admin request for the handler of {@code group}: a kind and an opaque body. */
  record AdminRequest(long requestId, String group, int kind, byte[] body) implements Request {
    @Override
    public String name() {
      return "ADMIN";
    }
  }

  // ----- responses (server → client) -----

  /** A response to the request with the same id. */
  sealed interface Response extends Message {
    long requestId();
  }

  /** Answers {@link ListManifests}: entries in ascending index order. */
  record ManifestList(long requestId, List<ManifestInfo> entries) implements Response {}

  /** Answers {@link GetManifest}: the manifest's encoding ({@code ManifestCodec}). */
  record ManifestBytes(long requestId, byte[] encoded) implements Response {
    @Override
    public String name() {
      return "MANIFEST";
    }
  }

  /** One chunk of a {@link Fetch}: its stored form (codec tag + payload), unverified. */
  record ChunkData(long requestId, ChunkId id, ByteBuffer stored) implements Response {
    @Override
    public String name() {
      return "CHUNK";
    }
  }

  /** One chunk of a {@link Fetch} that the server cannot send. */
  record Missing(long requestId, ChunkId id, int reason) implements Response {}

  /** Answers {@link Pin} and {@link Renew}. */
  record LeaseGranted(long requestId, long leaseId, String manifestKey, long expiresAtMillis)
      implements Response {
    @Override
    public String name() {
      return "LEASE";
    }
  }

  /** Answers {@link Unpin}. */
  record Ok(long requestId) implements Response {}

  /** An interim message about an {@link AdminRequest} in progress; the answer follows. */
  record AdminProgress(long requestId, int kind, byte[] body) implements Response {}

  /** Answers an {@link AdminRequest}. */
  record AdminReply(long requestId, int kind, byte[] body) implements Response {}

  /** A valid request the server could not satisfy. */
  record Error(long requestId, int code, String message) implements Response {}
}
