package dev.ferry.shipping;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A cluster member's id and addresses. Each node listens on three ports: Raft (gRPC), the chunk
 * service, and the admin RPC. The textual form is {@code id=host:raftPort}, with the chunk and
 * admin ports defaulting to {@code raftPort + 1} and {@code raftPort + 2}, or {@code
 * id=host:raftPort:chunkPort:adminPort} to set them. In the Raft configuration it travels as a
 * Ratis peer (raft-integration's {@code RaftPeers} encodes and decodes that form).
 *
 * @param id the peer id: 1 to 64 characters from {@code [A-Za-z0-9_-]}
 * @param host host name or IP address
 * @param raftPort the Raft gRPC port
 * @param chunkPort the chunk service port
 * @param adminPort the admin RPC port
 */
public record PeerAddress(String id, String host, int raftPort, int chunkPort, int adminPort) {
  private static final Pattern ID = Pattern.compile("[A-Za-z0-9_-]{1,64}");
  private static final Pattern FORM =
      Pattern.compile("([^=]+)=([^:\\s]+):(\\d{1,5})(?::(\\d{1,5}):(\\d{1,5}))?");

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
    port(id, "admin", adminPort);
    if (raftPort == chunkPort || raftPort == adminPort || chunkPort == adminPort) {
      throw new IllegalArgumentException(
          "peer " + id + ": raft, chunk and admin ports must differ");
    }
  }

  /** A peer with the chunk and admin ports derived from the Raft port. */
  public static PeerAddress of(String id, String host, int raftPort) {
    return new PeerAddress(id, host, raftPort, raftPort + 1, raftPort + 2);
  }

  /**
   * Parses {@code id=host:raftPort[:chunkPort:adminPort]}.
   *
   * @throws IllegalArgumentException with the offending text if it is malformed
   */
  public static PeerAddress parse(String text) {
    Matcher m = FORM.matcher(text.trim());
    if (!m.matches()) {
      throw new IllegalArgumentException(
          "bad peer '" + text + "': expected id=host:raftPort[:chunkPort:adminPort]");
    }
    int raft = Integer.parseInt(m.group(3));
    if (m.group(4) == null) {
      return of(m.group(1), m.group(2), raft);
    }
    return new PeerAddress(
        m.group(1), m.group(2), raft, Integer.parseInt(m.group(4)), Integer.parseInt(m.group(5)));
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
    return id + "=" + host + ":" + raftPort + ":" + chunkPort + ":" + adminPort;
  }

  private static void port(String id, String what, int port) {
    if (port < 1 || port > 65535) {
      throw new IllegalArgumentException(
          "peer " + id + ": " + what + " port out of range: " + port);
    }
  }
}
