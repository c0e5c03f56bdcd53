package dev.ferry.raft;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A cluster member's id and addresses. Each node listens on three ports: Raft (gRPC), the chunk
 * service, and the admin RPC. The textual form is {@code id=host:raftPort}, with the chunk and
 * admin ports defaulting to {@code raftPort + 1} and {@code raftPort + 2}, or {@code
 * id=host:raftPort:chunkPort:adminPort} to set them.
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

  /**
   * The address of a peer as it travels in the Raft configuration ({@link FerryServer#toRaftPeer}):
   * Raft address {@code host:raftPort}, data-stream address {@code host:chunkPort:adminPort} (or
   * {@code host:chunkPort}, admin port then chunk port + 1).
   *
   * @throws IllegalArgumentException if the addresses are malformed
   */
  public static PeerAddress fromRaftPeer(org.apache.ratis.protocol.RaftPeer p) {
    String id = p.getId().toString();
    String raft = p.getAddress();
    String chunk = p.getDataStreamAddress();
    if (raft == null || raft.lastIndexOf(':') < 1) {
      throw new IllegalArgumentException("peer " + id + ": bad Raft address " + raft);
    }
    String host = raft.substring(0, raft.lastIndexOf(':'));
    int raftPort = number(id, raft.substring(raft.lastIndexOf(':') + 1));
    if (chunk == null || chunk.isEmpty()) {
      return of(id, host, raftPort);
    }
    String[] parts = chunk.substring(host.length()).split(":");
    if (!chunk.startsWith(host + ":") || parts.length < 2 || parts.length > 3) {
      throw new IllegalArgumentException("peer " + id + ": bad chunk address " + chunk);
    }
    int chunkPort = number(id, parts[1]);
    int adminPort = parts.length == 3 ? number(id, parts[2]) : chunkPort + 1;
    return new PeerAddress(id, host, raftPort, chunkPort, adminPort);
  }

  private static int number(String id, String text) {
    try {
      return Integer.parseInt(text);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("peer " + id + ": bad port '" + text + "'", e);
    }
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
