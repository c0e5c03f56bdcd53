package dev.ferry.shipping;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A cluster member's id and addresses. Each node listens on two ports: Raft (gRPC) and its service
 * port (the chunk service, which serves admin requests too). The textual form is {@code
 * id=host:raftPort}, with the service port defaulting to {@code raftPort + 1}, or {@code
 * id=host:raftPort:chunkPort} to set it. The older form {@code
 * id=host:raftPort:chunkPort:adminPort} (from when the admin service had a port of its own;
 * membership records in the replicated log keep it) is still accepted: its admin port is ignored,
 * with one WARN line per process. In the Raft configuration it travels as a Ratis peer
 * (raft-integration's {@code RaftPeers} encodes and decodes that form).
 *
 * @param id the peer id: 1 to 64 characters from {@code [A-Za-z0-9_-]}
 * @param host host name or IP address
 * @param raftPort the Raft gRPC port
 * @param chunkPort the service port: chunk and admin requests
 */
public record PeerAddress(String id, String host, int raftPort, int chunkPort) {
  private static final Logger LOG = LoggerFactory.getLogger(PeerAddress.class);
  private static final AtomicBoolean WARNED = new AtomicBoolean();
  private static final Pattern ID = Pattern.compile("[A-Za-z0-9_-]{1,64}");
  private static final Pattern FORM =
      Pattern.compile("([^=]+)=([^:\\s]+):(\\d{1,5})(?::(\\d{1,5})(?::(\\d{1,5}))?)?");

  public PeerAddress {
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(host, "host");
    if (!ID.matcher(id).matches()) {
      throw new IllegalArgumentException(
          "peer id must be 1-64 characters of [A-Za-z0-9_-]: '" + id + "'");
    }
    if (host.isBlank()) {
      throw new IllegalArgumentException("peer " + id + ": empty host");
    }
    port(id, "raft", raftPort);
    port(id, "chunk", chunkPort);
    if (raftPort == chunkPort) {
      throw new IllegalArgumentException("peer " + id + ": raft and chunk ports must differ");
    }
  }

  /** A peer with the service (chunk) port derived from the Raft port. */
  public static PeerAddress of(String id, String host, int raftPort) {
    return new PeerAddress(id, host, raftPort, raftPort + 1);
  }

  /**
   * Parses {@code id=host:raftPort[:chunkPort]}, or the older {@code
   * id=host:raftPort:chunkPort:adminPort} whose admin port is ignored (see the class comment).
   *
   * @throws IllegalArgumentException with the offending text if it is malformed
   */
  public static PeerAddress parse(String text) {
    Matcher m = FORM.matcher(text.trim());
    if (!m.matches()) {
      throw new IllegalArgumentException(
          "bad peer '" + text + "': expected id=host:raftPort[:chunkPort]");
    }
    int raft = Integer.parseInt(m.group(3));
    if (m.group(4) == null) {
      return of(m.group(1), m.group(2), raft);
    }
    PeerAddress p = new PeerAddress(m.group(1), m.group(2), raft, Integer.parseInt(m.group(4)));
    if (m.group(5) != null) {
      ignoredAdminPort(text.trim());
    }
    return p;
  }

  /**
   * Notes (one WARN line per process) that an address in the older form named an admin port, which
   * no longer exists: admin requests go to the chunk port.
   */
  public static void ignoredAdminPort(String text) {
    if (WARNED.compareAndSet(false, true)) {
      LOG.warn(
          "peer address '{}' names an admin port: ignored, admin requests go to the chunk port"
              + " (id=host:raftPort:chunkPort); further addresses of that form are not reported",
          text);
    }
  }

  /**
   * Parses a comma-separated list of peers.
   *
   * @throws IllegalArgumentException if any is malformed or two share an id
   */
  public static List<PeerAddress> parseList(String text) {
    List<PeerAddress> peers = new ArrayList<>();
    for (String part : text.split(",")) {
      if (!part.isBlank()) {
        PeerAddress p = parse(part);
        for (PeerAddress q : peers) {
          if (q.id.equals(p.id)) {
            throw new IllegalArgumentException("peer id '" + p.id + "' appears twice");
          }
        }
        peers.add(p);
      }
    }
    if (peers.isEmpty()) {
      throw new IllegalArgumentException("no peers given");
    }
    return List.copyOf(peers);
  }

  /** {@code host:raftPort}. */
  public String raftAddress() {
    return host + ":" + raftPort;
  }

  @Override
  public String toString() {
    return id + "=" + host + ":" + raftPort + ":" + chunkPort;
  }

  private static void port(String id, String what, int port) {
    if (port < 1 || port > 65535) {
      throw new IllegalArgumentException(
          "peer " + id + ": " + what + " port out of range: " + port);
    }
  }
}
