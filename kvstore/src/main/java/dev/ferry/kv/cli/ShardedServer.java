package dev.ferry.kv.cli;

import dev.ferry.kv.shard.ClusterLayout;
import dev.ferry.kv.shard.MapStateMachine;
import dev.ferry.kv.shard.MetadataService;
import dev.ferry.kv.shard.Range;
import dev.ferry.raft.ClusterSecret;
import dev.ferry.raft.FerryNode;
import dev.ferry.raft.GroupSpec;
import dev.ferry.raft.TlsFiles;
import dev.ferry.shipping.PeerAddress;
import dev.ferry.statemachine.StateMachineConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * {@code ferry server --map FILE}: one {@link FerryNode} hosting the groups of a sharded cluster,
 * each with a state machine of its own. On first start (no Raft storage in the data directory yet)
 * it hosts every range whose replicas include the node; afterwards its storage decides (each group
 * it hosts is recorded there, {@link FerryNode}), so groups it gained or lost by replica moves are
 * kept gained or lost whatever the map file, possibly stale, says. A node on the map's {@code meta}
 * line also hosts the metadata group {@code <cluster>.meta} (at its first start) and runs its
 * {@link MetadataService} (seeding the group with the file's layout at version 1, reconciling it on
 * the group's leader); so does a node that hosts the metadata group from its storage, or gains it
 * at run time (a replacement or drain of a meta node moved it here), whatever the file's {@code
 * meta} line says.
 */
final class ShardedServer {
  private final ServerCommand cmd;
  private final Optional<TlsFiles> tls;
  private final ClassLoader loader;
  private final StateMachineConfig config;

  ShardedServer(
      ServerCommand cmd, Optional<TlsFiles> tls, ClassLoader loader, StateMachineConfig config) {
    this.cmd = cmd;
    this.tls = tls;
    this.loader = loader;
    this.config = config;
  }

  /** Whether the node in {@code dataDir} started before: its Raft storage exists. */
  static boolean startedBefore(Path dataDir) {
    return Files.isDirectory(dataDir.resolve("raft"));
  }

  /** The groups node {@code id} hosts on its first start: the ranges it holds a replica of. */
  static List<Range> rangesOf(ClusterLayout layout, String id) {
    layout.node(id);
    return layout.ranges().stream().filter(r -> r.replicas().contains(id)).toList();
  }

  /**
   * Whether node {@code id} runs the {@link MetadataService} from its start: it is on the map
   * file's {@code meta} line, or it hosts the metadata group from its storage (a replacement or
   * drain moved the group's replica here; the file's {@code meta} line may predate that move).
   *
   * @param hosted the groups the started node hosts
   */
  static boolean runsMetadataService(ClusterLayout file, String id, Set<String> hosted) {
    return file.replicated()
        && (MetadataService.hosts(file, id)
            || hosted.contains(ClusterLayout.metaGroupName(file.cluster())));
  }

  int run() throws IOException, InterruptedException {
    if (cmd.peers != null || cmd.listener) {
      throw new IllegalArgumentException(
          "--map hosts the map's groups: not with --peers or --listener");
    }
    if (!cmd.installLeaderLast) {
      throw new IllegalArgumentException("--no-install-leader-last is not supported with --map");
    }
    if (!Files.isRegularFile(cmd.map)) {
      throw new IllegalArgumentException("--map: no such file: " + cmd.map);
    }
    ClusterLayout layout = ClusterLayout.read(cmd.map);
    PeerAddress self = layout.node(cmd.id);
    ClusterSecret secret =
        cmd.secret()
            .orElseThrow(
                () ->
                    new IllegalArgumentException(
                        "--map needs the cluster secret (--secret-file or "
                            + ClusterSecret.ENV
                            + "): it guards installs and the node's admin requests"));
    String metaGroup = ClusterLayout.metaGroupName(layout.cluster());
    boolean hostsMeta = MetadataService.hosts(layout, cmd.id);
    FerryNode.Builder b =
        FerryNode.builder()
            .self(self)
            .dataDir(cmd.data)
            .clusterSecret(secret)
            .stateMachines(
                group ->
                    group.equals(metaGroup)
                        ? new MapStateMachine()
                        : StateMachineLoader.load(
                            cmd.stateMachine, cmd.stateMachineOptions, loader),
                config)
            .chunkSendRate(cmd.chunkSendRate)
            .logPreservationEntries(cmd.logPreserve)
            .pauseStopThreshold(Duration.ofSeconds(cmd.pauseStopSeconds))
            .stagingTimeout(Duration.ofSeconds(cmd.stagingTimeoutSeconds));
    tls.ifPresent(b::tls);
    // The node's transfer scheduler (docs/scale-out.md); unset: its defaults.
    java.util.Optional.ofNullable(cmd.maxInstalls).ifPresent(b::maxActiveInstalls);
    java.util.Optional.ofNullable(cmd.installBytesInFlight).ifPresent(b::installBytesInFlight);
    java.util.Optional.ofNullable(cmd.installDecodedBytes).ifPresent(b::installDecodedBytes);
    cmd.metricsEndpoint(self).ifPresent(b::metricsEndpoint);
    cmd.raftProperties.forEach(b::property);
    List<String> fromMap = new ArrayList<>();
    if (!startedBefore(cmd.data)) {
      for (Range r : rangesOf(layout, cmd.id)) {
        b.group(
            GroupSpec.of(
                    r.group(),
                    layout.peers(r),
                    StateMachineLoader.load(cmd.stateMachine, cmd.stateMachineOptions, loader))
                .withConfig(config));
        fromMap.add(r.group());
      }
      if (hostsMeta) {
        b.group(MetadataService.groupSpec(layout));
        fromMap.add(metaGroup);
      }
    }
    FerryNode node = b.build();
    AtomicReference<MetadataService> meta = new AtomicReference<>();
    CountDownLatch stopped =
        ServerCommand.closeOnShutdown(
            () -> {
              MetadataService m = meta.get();
              if (m != null) {
                m.close();
              }
              node.close();
            });
    node.start();
    if (runsMetadataService(layout, cmd.id, node.groups().keySet())) {
      meta.set(
          MetadataService.start(
              node, layout, secret, tls.orElse(null), MetadataService.DEFAULT_PERIOD));
    } else if (layout.replicated()) {
      // A replacement or drain of a meta node may move the metadata group here at run time (a
      // group management request): the node then runs its service too (its reconciler runs on
      // the group's leader only, which may be this node).
      node.scheduler()
          .scheduleWithFixedDelay(
              () -> {
                if (meta.get() == null && node.group(metaGroup).isPresent()) {
                  MetadataService started =
                      MetadataService.start(
                          node, layout, secret, tls.orElse(null), MetadataService.DEFAULT_PERIOD);
                  if (meta.compareAndSet(null, started)) {
                    System.out.println(
                        "ferry server "
                            + cmd.id
                            + ": hosts the metadata group "
                            + metaGroup
                            + " now (a replica moved here); runs its map service");
                    System.out.flush();
                  } else {
                    started.close();
                  }
                }
              },
              MetadataService.DEFAULT_PERIOD.toMillis(),
              MetadataService.DEFAULT_PERIOD.toMillis(),
              TimeUnit.MILLISECONDS);
    }
    System.out.println(
        "ferry server "
            + cmd.id
            + " started, cluster "
            + layout.cluster()
            + (layout.replicated()
                ? " (replicated map, metadata group on " + String.join(",", layout.meta()) + ")"
                : " (map version " + layout.version() + ")")
            + ", hosting "
            + node.groups().keySet()
            + (fromMap.isEmpty() ? " (from its storage)" : " (from the map)")
            + ", raft port "
            + self.raftPort()
            + (tls.isPresent() ? " (mutual TLS)" : "")
            + node.metricsAddress()
                .map(a -> ", metrics http://" + a.getHostString() + ":" + a.getPort() + "/metrics")
                .orElse(""));
    System.out.flush();
    stopped.await();
    return 0;
  }
}
