package dev.ferry.bench.recovery;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import org.apache.ratis.conf.RaftProperties;
import org.apache.ratis.grpc.GrpcConfigKeys;
import org.apache.ratis.protocol.RaftGroup;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.protocol.RaftPeer;
import org.apache.ratis.server.RaftServer;
import org.apache.ratis.server.storage.RaftStorage;
import org.apache.ratis.util.SizeInBytes;

/**
 * One Ratis server hosting the benchmark's {@link RatisKvStateMachine}, as its own process: the
 * Ratis side of the shaped (multi-process) recovery benchmark. Configured like {@link
 * RatisBaseline}'s in-JVM servers (1 MB log segments, purge up to the snapshot index, no automatic
 * snapshots, election timeouts 1.5–3 s, leader-sent install enabled, staging timeout raised).
 *
 * <p>Usage: {@code RatisNode --id r1 --peers r1=host:port,r2=host:port,... --dir DIR [--recover]
 * [--joining] [--prop key=value]...}; {@code --peers} is the group the server starts in (a joiner
 * lists the members and itself, and with {@code --joining} starts in the group with no
 * configuration, so with no election timer, until the leader adds it). Runs until killed.
 */
public final class RatisNode {
  /** The group every benchmark Ratis server belongs to. */
  static final RaftGroupId GROUP =
      RaftGroupId.valueOf(
          UUID.nameUUIDFromBytes("ferry-bench-ratis-shaped".getBytes(StandardCharsets.UTF_8)));

  private RatisNode() {}

  /**
   * Starts the server and blocks until the process is killed.
   *
   * @throws IOException if the server cannot start
   * @throws IllegalArgumentException on a malformed argument
   */
  public static void main(String[] args) throws Exception {
    String id = null;
    String peersArg = null;
    File dir = null;
    boolean recover = false;
    boolean joining = false;
    Map<String, String> props = new LinkedHashMap<>();
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--id" -> id = args[++i];
        case "--peers" -> peersArg = args[++i];
        case "--dir" -> dir = new File(args[++i]);
        case "--recover" -> recover = true;
        case "--joining" -> joining = true;
        case "--prop" -> {
          String[] kv = args[++i].split("=", 2);
          if (kv.length != 2) {
            throw new IllegalArgumentException("--prop needs key=value: " + args[i]);
          }
          props.put(kv[0], kv[1]);
        }
        default -> throw new IllegalArgumentException("unknown argument: " + args[i]);
      }
    }
    if (id == null || peersArg == null || dir == null) {
      throw new IllegalArgumentException("--id, --peers and --dir are required");
    }
    List<RaftPeer> peers = parsePeers(peersArg);
    String selfId = id;
    RaftPeer self =
        peers.stream()
            .filter(peer -> peer.getId().toString().equals(selfId))
            .findFirst()
            .orElseThrow(() -> new IllegalArgumentException(selfId + " is not in --peers"));
    String[] hostPort = self.getAddress().split(":");
    RaftProperties p = RatisBaseline.serverProperties(dir, Integer.parseInt(hostPort[1]));
    GrpcConfigKeys.Server.setHost(p, hostPort[0]);
    GrpcConfigKeys.setMessageSizeMax(p, SizeInBytes.valueOf("64MB"));
    props.forEach(p::set);
    RaftServer server =
        RaftServer.newBuilder()
            .setServerId(self.getId())
            // A joiner starts in the group with no configuration (Ratis's "initializing" state:
            // no election timer; Ratis refuses a non-empty peer list without the server itself)
            // and waits for the leader. Started inside the configuration, a joiner whose join
            // comes later than its election timeout (a loaded machine) asks the voters for votes
            // and is told to shut down.
            .setGroup(joining ? RaftGroup.valueOf(GROUP) : RaftGroup.valueOf(GROUP, peers))
            .setStateMachine(new RatisKvStateMachine())
            .setProperties(p)
            .setOption(
                recover ? RaftStorage.StartupOption.RECOVER : RaftStorage.StartupOption.FORMAT)
            .build();
    server.start();
    System.out.println("ratis node " + id + " started on " + self.getAddress());
    new CountDownLatch(1).await();
  }

  /** {@code id=host:port,...} as Ratis peers. */
  static List<RaftPeer> parsePeers(String spec) {
    List<RaftPeer> peers = new ArrayList<>();
    for (String part : spec.split(",")) {
      String[] idAddr = part.split("=", 2);
      if (idAddr.length != 2 || !idAddr[1].contains(":")) {
        throw new IllegalArgumentException("peer must be id=host:port: " + part);
      }
      peers.add(RaftPeer.newBuilder().setId(idAddr[0]).setAddress(idAddr[1]).build());
    }
    return peers;
  }
}
