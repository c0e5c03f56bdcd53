package dev.ferry.raft.admin;

import dev.ferry.shipping.chunks.AdminMessage;
import dev.ferry.shipping.install.InstallProgress;
import dev.ferry.shipping.install.TransferPriority;
import dev.ferry.shipping.install.TransferScheduler;
import dev.ferry.snapshot.StateDigest;
import dev.ferry.statemachine.DigestAt;
import dev.ferry.statemachine.MembershipChange;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The admin messages (version 1) the chunk service carries for the admin service in its {@code
 * ADMIN} / {@code ADMIN_PROGRESS} / {@code ADMIN_REPLY} frames ({@code docs/chunk-protocol.md}):
 * the chunk service frames, authenticates, bounds and routes them by group id; this class encodes a
 * message's kind and body. The body is a small string map ({@code u16 count, then per entry u16
 * keyLength, key, u16 valueLength, value}, UTF-8); a map has at most {@value #MAX_ENTRIES} entries,
 * a key at most {@value #MAX_KEY} bytes; a duplicate key, invalid UTF-8 or trailing bytes are
 * errors. Bad input raises {@link AdminProtocolException}; nothing from the wire names a file.
 *
 * <p>The requests, one at a time per connection: {@code STATUS} → {@code STATUS_REPLY}; {@code
 * ADD{node, deadlineMs, [replaces]}} → {@code PROGRESS}* then {@code ADD_DONE} (with {@code
 * replaced.*}, the removal of the node it replaces, for an add that replaces one) or {@code ERROR};
 * {@code REMOVE{node, deadlineMs}} → {@code REMOVE_DONE} or {@code ERROR}; {@code RETIRE{reason,
 * wipe}} → {@code RETIRED} or {@code ERROR}; {@code CANCEL{[node], deadlineMs}} → {@code
 * CANCEL_DONE} or {@code ERROR}; {@code IDENTITY{node}} → {@code IDENTITY_REPLY{id, storageId?,
 * knowsGroup, recorded?, role?}} ({@link PeerIdentity}) or {@code ERROR}. Node-level requests, sent
 * under the reserved id {@link NodeAdminServer#NODE_ID} instead of a group id: {@code HOST{group,
 * peers}} → {@code HOSTED{started}} or {@code ERROR}; {@code GROUPS} → {@code GROUPS_REPLY{groups}}
 * (names joined by commas).
 *
 * <p>Stateless; the static methods are thread-safe.
 */
final class AdminProtocol {
  static final int MAX_ENTRIES = 256;
  static final int MAX_KEY = 64;

  static final int STATUS = 0x10;
  static final int ADD = 0x11;
  static final int REMOVE = 0x12;
  static final int RETIRE = 0x13;
  static final int CANCEL = 0x14;
  static final int IDENTITY = 0x15;
  static final int HOST = 0x16;
  static final int GROUPS = 0x17;
  static final int STATUS_REPLY = 0x20;
  static final int PROGRESS = 0x21;
  static final int ADD_DONE = 0x22;
  static final int REMOVE_DONE = 0x23;
  static final int RETIRED = 0x24;
  static final int CANCEL_DONE = 0x25;
  static final int IDENTITY_REPLY = 0x26;
  static final int HOSTED = 0x27;
  static final int GROUPS_REPLY = 0x28;
  static final int ERROR = 0x2f;

  private static final HexFormat HEX = HexFormat.of();

  private AdminProtocol() {}

  /** One frame. */
  record Frame(int type, Map<String, String> body) {
    String get(String key) throws AdminProtocolException {
      String v = body.get(key);
      if (v == null) {
        throw new AdminProtocolException("frame " + type + " lacks '" + key + "'");
      }
      return v;
    }

    long number(String key) throws AdminProtocolException {
      String v = get(key);
      try {
        return Long.parseLong(v);
      } catch (NumberFormatException e) {
        throw new AdminProtocolException("'" + key + "' is not a number: " + v);
      }
    }

    byte[] hex(String key, int length) throws AdminProtocolException {
      String v = get(key);
      try {
        byte[] b = HEX.parseHex(v);
        if (b.length != length) {
          throw new AdminProtocolException("'" + key + "' must be " + length + " bytes");
        }
        return b;
      } catch (IllegalArgumentException e) {
        throw new AdminProtocolException("'" + key + "' is not hex");
      }
    }
  }

  /** Thrown for a malformed frame. */
  static final class AdminProtocolException extends IOException {
    private static final long serialVersionUID = 1L;

    AdminProtocolException(String message) {
      super(message);
    }
  }

  /**
   * Encodes a message.
   *
   * @throws IllegalArgumentException if the map or an entry is too large
   */
  static AdminMessage message(int type, Map<String, String> body) {
    if (body.size() > MAX_ENTRIES) {
      throw new IllegalArgumentException("too many entries: " + body.size());
    }
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    DataOutputStream buf = new DataOutputStream(bytes);
    try {
      buf.writeShort(body.size());
      for (Map.Entry<String, String> e : body.entrySet()) {
        byte[] k = e.getKey().getBytes(StandardCharsets.UTF_8);
        byte[] v = e.getValue().getBytes(StandardCharsets.UTF_8);
        if (k.length > MAX_KEY || v.length > 0xffff) {
          throw new IllegalArgumentException("entry too long: " + e.getKey());
        }
        buf.writeShort(k.length);
        buf.write(k);
        buf.writeShort(v.length);
        buf.write(v);
      }
      buf.flush();
    } catch (IOException e) {
      throw new UncheckedIOException(e); // a byte array does not fail
    }
    return new AdminMessage(type, bytes.toByteArray());
  }

  /**
   * Decodes a message.
   *
   * @throws AdminProtocolException if its body is malformed
   */
  static Frame frame(AdminMessage m) throws AdminProtocolException {
    ByteBuffer b = ByteBuffer.wrap(m.body());
    Map<String, String> body = new LinkedHashMap<>();
    try {
      int count = b.getShort() & 0xffff;
      if (count > MAX_ENTRIES) {
        throw new AdminProtocolException("too many entries: " + count);
      }
      for (int i = 0; i < count; i++) {
        String k = text(b, MAX_KEY);
        String v = text(b, 0xffff);
        if (body.put(k, v) != null) {
          throw new AdminProtocolException("duplicate key '" + k + "'");
        }
      }
    } catch (BufferUnderflowException e) {
      throw new AdminProtocolException("truncated body of admin message " + m.kind());
    }
    if (b.hasRemaining()) {
      throw new AdminProtocolException(
          b.remaining() + " trailing bytes in admin message " + m.kind());
    }
    return new Frame(m.kind(), body);
  }

  private static String text(ByteBuffer b, int max) throws AdminProtocolException {
    int n = b.getShort() & 0xffff;
    if (n > max) {
      throw new AdminProtocolException("text of " + n + " bytes, at most " + max);
    }
    byte[] t = new byte[n];
    b.get(t);
    try {
      return StandardCharsets.UTF_8
          .newDecoder()
          .onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT)
          .decode(ByteBuffer.wrap(t))
          .toString();
    } catch (CharacterCodingException e) {
      throw new AdminProtocolException("invalid UTF-8");
    }
  }

  static String hex(byte[] b) {
    return HEX.formatHex(b);
  }

  // ---- bodies ----

  static Map<String, String> status(NodeStatus s) {
    Map<String, String> m = new LinkedHashMap<>();
    m.put("id", s.id());
    m.put("role", s.role());
    s.leader().ifPresent(l -> m.put("leader", l));
    m.put("term", Long.toString(s.term()));
    m.put("applied", Long.toString(s.appliedIndex()));
    m.put("commit", Long.toString(s.commitIndex()));
    m.put("logStart", Long.toString(s.logStartIndex()));
    m.put("digest", s.digest().toHex());
    s.lastCheckpoint()
        .ifPresent(
            c -> {
              m.put("checkpoint.term", Long.toString(c.term()));
              m.put("checkpoint.index", Long.toString(c.index()));
              m.put("checkpoint.digest", c.digest().toHex());
            });
    List<String> members = new ArrayList<>();
    for (NodeStatus.Member mem : s.members()) {
      members.add((mem.voter() ? "voter " : "listener ") + mem.address());
    }
    m.put("members", String.join(",", members));
    s.pending().ifPresent(p -> m.put("pending", hex(p.encode())));
    if (!s.staged().isEmpty()) {
      m.put("staged", String.join(",", s.staged()));
    }
    s.install().ifPresent(i -> putInstall(m, "install.", i));
    s.lastInstall().ifPresent(i -> putInstall(m, "last.", i));
    s.counters()
        .ifPresent(
            c -> {
              m.put("counters.refused", Long.toString(c.refused()));
              m.put("counters.malformed", Long.toString(c.malformed()));
              m.put("counters.quarantined", Long.toString(c.quarantined()));
            });
    s.recovery()
        .ifPresent(
            r -> {
              m.put("recovery.holdFloor", Long.toString(r.holdFloor()));
              m.put("recovery.holds", Long.toString(r.holdsPlaced()));
              m.put("recovery.expiries", Long.toString(r.holdExpiries()));
              m.put("recovery.rebases", Long.toString(r.rebases()));
              m.put("recovery.alerts", Long.toString(r.alerts()));
            });
    s.transfers().ifPresent(t -> putTransfers(m, t));
    return m;
  }

  private static void putTransfers(Map<String, String> m, NodeStatus.Transfers t) {
    m.put("transfers.max", Long.toString(t.maxActiveInstalls()));
    m.put("transfers.budget", Long.toString(t.bytesBudget()));
    m.put("transfers.inFlight", Long.toString(t.bytesInFlight()));
    m.put("transfers.decodedBudget", Long.toString(t.decodedBudget()));
    m.put("transfers.decoded", Long.toString(t.decodedBytes()));
    m.put("transfers.active", Long.toString(t.activeCount()));
    m.put("transfers.queued", Long.toString(t.queuedCount()));
    putInstalls(m, "transfers.active.", t.active());
    putInstalls(m, "transfers.queued.", t.queued());
  }

  /** One key per install, numbered from 1: {@code priority sinceMs bytesHeld decodedBytes who}. */
  private static void putInstalls(
      Map<String, String> m, String prefix, List<TransferScheduler.Install> installs) {
    for (int i = 0; i < installs.size(); i++) {
      TransferScheduler.Install x = installs.get(i);
      m.put(
          prefix + (i + 1),
          x.priority().label()
              + " "
              + x.since().toMillis()
              + " "
              + x.bytesHeld()
              + " "
              + x.decodedBytes()
              + " "
              + x.who());
    }
  }

  private static Optional<NodeStatus.Transfers> transfers(Frame f) throws AdminProtocolException {
    if (!f.body().containsKey("transfers.max")) {
      return Optional.empty();
    }
    int active = count(f, "transfers.active");
    int queued = count(f, "transfers.queued");
    return Optional.of(
        new NodeStatus.Transfers(
            count(f, "transfers.max"),
            f.number("transfers.budget"),
            f.number("transfers.inFlight"),
            f.number("transfers.decodedBudget"),
            f.number("transfers.decoded"),
            active,
            installs(f, "transfers.active.", active),
            queued,
            installs(f, "transfers.queued.", queued)));
  }

  private static int count(Frame f, String key) throws AdminProtocolException {
    long n = f.number(key);
    if (n < 0 || n > Integer.MAX_VALUE) {
      throw new AdminProtocolException("'" + key + "' out of range: " + n);
    }
    return (int) n;
  }

  private static List<TransferScheduler.Install> installs(Frame f, String prefix, int count)
      throws AdminProtocolException {
    List<TransferScheduler.Install> out = new ArrayList<>();
    for (int i = 1; i <= Math.min(count, NodeStatus.Transfers.LISTED); i++) {
      String v = f.get(prefix + i);
      String[] parts = v.split(" ", 5);
      if (parts.length != 5) {
        throw new AdminProtocolException("bad install '" + v + "'");
      }
      try {
        out.add(
            new TransferScheduler.Install(
                parts[4],
                TransferPriority.parse(parts[0]),
                Duration.ofMillis(Long.parseLong(parts[1])),
                Long.parseLong(parts[2]),
                Long.parseLong(parts[3])));
      } catch (IllegalArgumentException e) {
        throw new AdminProtocolException("bad install '" + v + "': " + e.getMessage());
      }
    }
    return out;
  }

  static NodeStatus status(Frame f) throws AdminProtocolException {
    List<NodeStatus.Member> members = new ArrayList<>();
    String list = f.get("members");
    if (!list.isEmpty()) {
      for (String mem : list.split(",")) {
        int sp = mem.indexOf(' ');
        String address = mem.substring(sp + 1);
        int eq = address.indexOf('=');
        if (sp < 0 || eq < 1) {
          throw new AdminProtocolException("bad member '" + mem + "'");
        }
        members.add(
            new NodeStatus.Member(
                address.substring(0, eq), address, mem.substring(0, sp).equals("voter")));
      }
    }
    Optional<MembershipChange> pending = Optional.empty();
    if (f.body().containsKey("pending")) {
      try {
        pending = Optional.of(MembershipChange.decode(HEX.parseHex(f.get("pending"))));
      } catch (IllegalArgumentException e) {
        throw new AdminProtocolException("bad pending change: " + e.getMessage());
      }
    }
    try {
      return new NodeStatus(
          f.get("id"),
          f.get("role"),
          Optional.ofNullable(f.body().get("leader")),
          f.number("term"),
          f.number("applied"),
          f.number("commit"),
          f.number("logStart"),
          StateDigest.fromBytes(f.hex("digest", StateDigest.LENGTH)),
          f.body().containsKey("checkpoint.index")
              ? Optional.of(
                  new DigestAt(
                      f.number("checkpoint.term"),
                      f.number("checkpoint.index"),
                      StateDigest.fromBytes(f.hex("checkpoint.digest", StateDigest.LENGTH))))
              : Optional.empty(),
          members,
          pending,
          f.body().containsKey("staged") ? List.of(f.get("staged").split(",")) : List.of(),
          install(f, "install."),
          install(f, "last."),
          counters(f),
          recovery(f),
          transfers(f));
    } catch (IllegalArgumentException | NullPointerException e) {
      throw new AdminProtocolException("bad status: " + e.getMessage());
    }
  }

  private static Optional<NodeStatus.Recovery> recovery(Frame f) throws AdminProtocolException {
    if (!f.body().containsKey("recovery.alerts")) {
      return Optional.empty();
    }
    return Optional.of(
        new NodeStatus.Recovery(
            f.number("recovery.holdFloor"),
            f.number("recovery.holds"),
            f.number("recovery.expiries"),
            f.number("recovery.rebases"),
            f.number("recovery.alerts")));
  }

  private static Optional<NodeStatus.Counters> counters(Frame f) throws AdminProtocolException {
    if (!f.body().containsKey("counters.quarantined")) {
      return Optional.empty();
    }
    return Optional.of(
        new NodeStatus.Counters(
            f.number("counters.refused"),
            f.number("counters.malformed"),
            f.number("counters.quarantined")));
  }

  static Map<String, String> progress(AddProgress p) {
    Map<String, String> m = new LinkedHashMap<>();
    m.put("node", p.nodeId());
    m.put("phase", p.phase().name());
    p.install().ifPresent(i -> putInstall(m, "install.", i));
    return m;
  }

  static AddProgress progress(Frame f) throws AdminProtocolException {
    try {
      return new AddProgress(
          f.get("node"), AddProgress.Phase.valueOf(f.get("phase")), install(f, "install."));
    } catch (IllegalArgumentException e) {
      throw new AdminProtocolException("bad progress: " + e.getMessage());
    }
  }

  static Map<String, String> identity(PeerIdentity p) {
    Map<String, String> m = new LinkedHashMap<>();
    m.put("id", p.nodeId());
    p.storageId().ifPresent(v -> m.put("storageId", v));
    m.put("knowsGroup", Boolean.toString(p.knowsGroup()));
    p.recorded().ifPresent(v -> m.put("recorded", v));
    p.role().ifPresent(v -> m.put("role", v.name()));
    return m;
  }

  static PeerIdentity identity(Frame f) throws AdminProtocolException {
    PeerIdentity.MemberRole role = null;
    String r = f.body().get("role");
    if (r != null) {
      try {
        role = PeerIdentity.MemberRole.valueOf(r);
      } catch (IllegalArgumentException e) {
        throw new AdminProtocolException("unknown role " + r);
      }
    }
    return new PeerIdentity(
        f.get("id"),
        Optional.ofNullable(f.body().get("storageId")),
        Boolean.parseBoolean(f.get("knowsGroup")),
        Optional.ofNullable(f.body().get("recorded")),
        Optional.ofNullable(role));
  }

  static Map<String, String> addResult(AddResult r) {
    Map<String, String> m = new LinkedHashMap<>();
    m.put("node", r.nodeId());
    m.put("checkpoint", Long.toString(r.checkpointId()));
    m.put("term", Long.toString(r.verified().term()));
    m.put("index", Long.toString(r.verified().index()));
    m.put("digest", r.verified().digest().toHex());
    m.put("listenerAddedMs", Long.toString(r.listenerAdded().toMillis()));
    m.put("caughtUpMs", Long.toString(r.caughtUp().toMillis()));
    m.put("verifiedMs", Long.toString(r.verifiedIn().toMillis()));
    m.put("promotedMs", Long.toString(r.promoted().toMillis()));
    m.put("shipped", perSource(r.bytesShipped()));
    r.replaced().ifPresent(x -> putRemoveResult(m, "replaced.", x));
    return m;
  }

  static AddResult addResult(Frame f) throws AdminProtocolException {
    try {
      return new AddResult(
          f.get("node"),
          f.number("checkpoint"),
          new DigestAt(
              f.number("term"),
              f.number("index"),
              StateDigest.fromBytes(f.hex("digest", StateDigest.LENGTH))),
          Duration.ofMillis(f.number("listenerAddedMs")),
          Duration.ofMillis(f.number("caughtUpMs")),
          Duration.ofMillis(f.number("verifiedMs")),
          Duration.ofMillis(f.number("promotedMs")),
          perSource(f.get("shipped")),
          f.body().containsKey("replaced.node")
              ? Optional.of(removeResult(f, "replaced."))
              : Optional.empty());
    } catch (IllegalArgumentException e) {
      throw new AdminProtocolException("bad add result: " + e.getMessage());
    }
  }

  static Map<String, String> removeResult(RemoveResult r) {
    Map<String, String> m = new LinkedHashMap<>();
    putRemoveResult(m, "", r);
    return m;
  }

  private static void putRemoveResult(Map<String, String> m, String prefix, RemoveResult r) {
    m.put(prefix + "node", r.nodeId());
    m.put(prefix + "outcome", r.outcome().name());
    m.put(prefix + "transferred", Boolean.toString(r.leadershipTransferred()));
    m.put(prefix + "leader", r.leaderAfter());
    m.put(prefix + "ms", Long.toString(r.duration().toMillis()));
  }

  static RemoveResult removeResult(Frame f) throws AdminProtocolException {
    return removeResult(f, "");
  }

  private static RemoveResult removeResult(Frame f, String prefix) throws AdminProtocolException {
    try {
      return new RemoveResult(
          f.get(prefix + "node"),
          RemoveResult.Outcome.valueOf(f.get(prefix + "outcome")),
          Boolean.parseBoolean(f.get(prefix + "transferred")),
          f.get(prefix + "leader"),
          Duration.ofMillis(f.number(prefix + "ms")));
    } catch (IllegalArgumentException e) {
      throw new AdminProtocolException("bad remove result: " + e.getMessage());
    }
  }

  static Map<String, String> cancelRequest(CancelRequest r) {
    Map<String, String> m = new LinkedHashMap<>();
    r.nodeId().ifPresent(n -> m.put("node", n));
    m.put("deadlineMs", Long.toString(r.deadline().toMillis()));
    return m;
  }

  static CancelRequest cancelRequest(Frame f) throws AdminProtocolException {
    try {
      return new CancelRequest(
          Optional.ofNullable(f.body().get("node")), Duration.ofMillis(f.number("deadlineMs")));
    } catch (IllegalArgumentException e) {
      throw new AdminProtocolException("bad cancel request: " + e.getMessage());
    }
  }

  static Map<String, String> cancelResult(CancelResult r) {
    Map<String, String> m = new LinkedHashMap<>();
    m.put("outcome", r.outcome().name());
    r.change().ifPresent(c -> m.put("change", hex(c.encode())));
    r.addRan().ifPresent(d -> m.put("ranMs", Long.toString(d.toMillis())));
    m.put("ms", Long.toString(r.took().toMillis()));
    return m;
  }

  static CancelResult cancelResult(Frame f) throws AdminProtocolException {
    try {
      return new CancelResult(
          CancelResult.Outcome.valueOf(f.get("outcome")),
          f.body().containsKey("change")
              ? Optional.of(MembershipChange.decode(HEX.parseHex(f.get("change"))))
              : Optional.empty(),
          f.body().containsKey("ranMs")
              ? Optional.of(Duration.ofMillis(f.number("ranMs")))
              : Optional.empty(),
          Duration.ofMillis(f.number("ms")));
    } catch (IllegalArgumentException e) {
      throw new AdminProtocolException("bad cancel result: " + e.getMessage());
    }
  }

  /** An error frame for {@code t}: its kind and message, and a mismatch's digests. */
  static Map<String, String> error(Throwable t) {
    Map<String, String> m = new LinkedHashMap<>();
    String kind;
    if (t instanceof MemberDigestMismatchException d) {
      kind = "mismatch";
      m.put("node", d.nodeId());
      m.put("index", Long.toString(d.index()));
      m.put("expected", d.expected().toHex());
      m.put("actual", d.actual().toHex());
    } else if (t instanceof MembershipConflictException) {
      kind = "conflict";
    } else if (t instanceof MembershipCancelledException) {
      kind = "cancelled";
    } else if (t instanceof MembershipTimeoutException) {
      kind = "timeout";
    } else if (t instanceof MemberUnreachableException) {
      kind = "unreachable";
    } else if (t instanceof IllegalArgumentException) {
      kind = "invalid";
    } else if (t instanceof IllegalStateException) {
      kind = "state";
    } else {
      kind = "failed";
    }
    m.put("kind", kind);
    String msg = String.valueOf(t.getMessage());
    m.put("message", msg.length() > 4000 ? msg.substring(0, 4000) : msg);
    return m;
  }

  /** The exception an error frame stands for. */
  static RuntimeException error(Frame f) throws AdminProtocolException {
    String message = f.get("message");
    return switch (f.get("kind")) {
      case "mismatch" ->
          new MemberDigestMismatchException(
              f.get("node"),
              f.number("index"),
              StateDigest.fromBytes(f.hex("expected", StateDigest.LENGTH)),
              StateDigest.fromBytes(f.hex("actual", StateDigest.LENGTH)));
      case "conflict" -> new MembershipConflictException(message);
      case "cancelled" -> new MembershipCancelledException(message);
      case "timeout" -> new MembershipTimeoutException(message, null);
      case "unreachable" -> new MemberUnreachableException(message, null);
      case "invalid" -> new IllegalArgumentException(message);
      case "state" -> new IllegalStateException(message);
      default -> new AdminException(message);
    };
  }

  private static void putInstall(Map<String, String> m, String prefix, InstallProgress i) {
    m.put(prefix + "index", Long.toString(i.index()));
    m.put(prefix + "wanted", Long.toString(i.bytesWanted()));
    m.put(prefix + "done", Long.toString(i.bytesDone()));
    m.put(prefix + "sources", perSource(i.bytesPerSource()));
    m.put(prefix + "ms", Long.toString(i.elapsed().toMillis()));
    m.put(prefix + "rate", Long.toString(Math.round(i.smoothedBytesPerSecond())));
    m.put(prefix + "loadms", Long.toString(i.loadLeft().toMillis()));
  }

  private static Optional<InstallProgress> install(Frame f, String prefix)
      throws AdminProtocolException {
    if (!f.body().containsKey(prefix + "index")) {
      return Optional.empty();
    }
    return Optional.of(
        new InstallProgress(
            f.number(prefix + "index"),
            f.number(prefix + "wanted"),
            f.number(prefix + "done"),
            perSource(f.get(prefix + "sources")),
            Duration.ofMillis(f.number(prefix + "ms")),
            optionalNumber(f, prefix + "rate"),
            Duration.ofMillis(optionalNumber(f, prefix + "loadms"))));
  }

  /** A number a peer of an earlier version does not send: 0 then. */
  private static long optionalNumber(Frame f, String key) throws AdminProtocolException {
    return f.body().containsKey(key) ? f.number(key) : 0;
  }

  private static String perSource(Map<String, Long> bytes) {
    List<String> parts = new ArrayList<>();
    bytes.entrySet().stream()
        .sorted(Map.Entry.comparingByKey())
        .forEach(e -> parts.add(e.getKey() + "=" + e.getValue()));
    return String.join(",", parts);
  }

  private static Map<String, Long> perSource(String text) throws AdminProtocolException {
    Map<String, Long> out = new LinkedHashMap<>();
    if (text.isEmpty()) {
      return out;
    }
    for (String part : text.split(",")) {
      int eq = part.lastIndexOf('=');
      try {
        if (eq < 1
            || out.put(part.substring(0, eq), Long.parseLong(part.substring(eq + 1))) != null) {
          throw new AdminProtocolException("bad per-source bytes '" + part + "'");
        }
      } catch (NumberFormatException e) {
        throw new AdminProtocolException("bad per-source bytes '" + part + "'");
      }
    }
    return out;
  }
}
