package dev.ferry.kv.cli;

import dev.ferry.raft.ClusterSecret;
import dev.ferry.raft.FerryServer;
import dev.ferry.raft.TlsFiles;
import dev.ferry.shipping.PeerAddress;
import dev.ferry.statemachine.StateMachine;
import dev.ferry.statemachine.StateMachineConfig;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code ferry server}: runs one node until killed (SIGTERM stops it cleanly). */
@Command(
    name = "server",
    description = "Run a Ferry node: the key-value store, or any state machine (--state-machine).")
final class ServerCommand implements Callable<Integer> {
  @Option(names = "--id", required = true, description = "This node's id (one of --peers).")
  String id;

  @Option(
      names = "--map",
      paramLabel = "FILE",
      description =
          "Host the groups of a sharded cluster (a descriptor made by `ferry shard create`): every"
              + " range whose replicas include --id, in one process (the map names the cluster). Not with --peers or"
              + " --listener. On a restart the node's own storage says what it hosts (groups"
              + " gained or lost by moves included); the map's layout is used on first start only.")
  Path map;

  @Option(
      names = "--peers",
      description =
          "Members: id=host:raftPort[:chunkPort],... (this node included); required without"
              + " --map. The chunk port (default"
              + " raftPort + 1) serves chunks and admin requests; an older"
              + " id=host:raftPort:chunkPort:adminPort form is accepted, its admin port ignored.")
  String peers;

  @Option(names = "--data", required = true, description = "Data directory.")
  Path data;

  @Option(
      names = "--cluster",
      defaultValue = "ferry",
      description = "Cluster name (default ${DEFAULT-VALUE}).")
  String cluster;

  @Option(names = "--listener", description = "Start as a non-voting listener (to join a cluster).")
  boolean listener;

  @Option(
      names = "--state-machine",
      defaultValue = "kv",
      paramLabel = "NAME",
      description =
          "The state machine to run: a StateMachineProvider's name or its type's class name, or a"
              + " StateMachine class with a public no-argument constructor (default"
              + " ${DEFAULT-VALUE}, the key-value store).")
  String stateMachine;

  @Option(
      names = "--classpath",
      paramLabel = "PATH",
      description =
          "Jars and class directories (separated by ':') holding the state machine"
              + " (default: $FERRY_CLASSPATH).")
  String classpath = System.getenv("FERRY_CLASSPATH");

  @Option(
      names = "--sm-opt",
      paramLabel = "KEY=VALUE",
      description = "An option for the state machine's provider (repeatable), e.g. shards=32.")
  Map<String, String> stateMachineOptions = new LinkedHashMap<>();

  @Option(
      names = "--capture-every",
      defaultValue = "100000",
      description = "Capture a snapshot every N applied commands (default ${DEFAULT-VALUE}).")
  long captureEvery;

  @Option(
      names = "--log-preserve",
      defaultValue = "10000",
      description = "Log entries kept beyond the snapshot when purging (default ${DEFAULT-VALUE}).")
  long logPreserve;

  @Option(
      names = "--secret-file",
      description =
          "File holding the cluster secret (or set FERRY_CLUSTER_SECRET). Without one the node"
              + " cannot ship or receive snapshots.")
  Path secretFile;

  @Option(
      names = "--install-leader-last",
      negatable = true,
      defaultValue = "true",
      fallbackValue = "true",
      description =
          "This node's installs ask the leader last, only for chunks no follower can serve"
              + " (default); --no-install-leader-last makes the leader a source like the others.")
  boolean installLeaderLast;

  @Option(
      names = "--chunk-send-rate",
      defaultValue = "0",
      description = "Limit the chunk service's send rate, bytes/s (0: unlimited).")
  long chunkSendRate;

  @Option(
      names = "--max-installs",
      paramLabel = "N",
      description =
          "With --map: at most N snapshot installs of the node's groups run at once; more wait in"
              + " the node's queue, by priority (default 8).")
  Integer maxInstalls;

  @Option(
      names = "--install-bytes-in-flight",
      paramLabel = "BYTES",
      description =
          "With --map: at most this many chunk bytes requested and not yet written, over all the"
              + " node's installs (default 268435456, 256 MiB; at least 65536).")
  Long installBytesInFlight;

  @Option(
      names = "--install-decoded-bytes",
      paramLabel = "BYTES",
      description =
          "With --map: at most this many bytes of decoded chunks kept in memory, over all the"
              + " node's installs, until their shards load; more are read back from disk (default"
              + " a sixteenth of the heap, at most 268435456, 256 MiB; 0 keeps none).")
  Long installDecodedBytes;

  @Option(
      names = "--pause-stop-threshold",
      defaultValue = "60",
      paramLabel = "SECONDS",
      description =
          "Stop the node when the whole process was paused longer than this (a long GC, a"
              + " suspended process, a clock jump); run it under a supervisor that restarts it"
              + " (default ${DEFAULT-VALUE}).")
  long pauseStopSeconds;

  @Option(
      names = "--staging-timeout",
      defaultValue = "15",
      paramLabel = "SECONDS",
      description =
          "On the leader: end the staging of a joining node that has not answered for this long"
              + " (Ratis refuses other membership changes while it stages one; a node answers while"
              + " it installs). Default ${DEFAULT-VALUE}.")
  long stagingTimeoutSeconds;

  @Option(
      names = "--raft-property",
      paramLabel = "KEY=VALUE",
      description =
          "A raw Ratis property, applied last (advanced; repeatable), e.g."
              + " raft.grpc.server.host=10.0.0.1 to bind the Raft port to one address.")
  Map<String, String> raftProperties = new LinkedHashMap<>();

  @Option(
      names = "--metrics-port",
      paramLabel = "PORT|off",
      description =
          "Serve GET /metrics (Prometheus) and GET /health on this HTTP port, unauthenticated"
              + " (default: the Raft port + 3; 0: any free port; off: no endpoint).")
  String metricsPort;

  @Option(
      names = "--metrics-bind",
      paramLabel = "ADDRESS",
      description =
          "The address the metrics endpoint binds (default: this node's host in --peers; 0.0.0.0"
              + " for every interface).")
  String metricsBind;

  @Mixin TlsOptions tls = new TlsOptions();

  /** The metrics endpoint's address for node {@code self}, or empty when it is off. */
  java.util.Optional<InetSocketAddress> metricsEndpoint(PeerAddress self) {
    if (metricsPort != null && metricsPort.equals("off")) {
      if (metricsBind != null) {
        throw new IllegalArgumentException("--metrics-bind with --metrics-port off");
      }
      return java.util.Optional.empty();
    }
    int port;
    if (metricsPort == null) {
      port = self.raftPort() + 3;
    } else {
      try {
        port = Integer.parseInt(metricsPort);
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException(
            "--metrics-port must be a port number or off: " + metricsPort);
      }
    }
    if (port < 0 || port > 65_535) {
      throw new IllegalArgumentException("--metrics-port out of range: " + port);
    }
    String host = metricsBind != null ? metricsBind : self.host();
    return java.util.Optional.of(new InetSocketAddress(host, port));
  }

  java.util.Optional<ClusterSecret> secret() throws java.io.IOException {
    if (secretFile != null) {
      return java.util.Optional.of(ClusterSecret.fromFile(secretFile));
    }
    return ClusterSecret.fromEnvironment(System.getenv());
  }

  @Override
  public Integer call() throws Exception {
    if (captureEvery < 1) {
      throw new IllegalArgumentException("--capture-every must be >= 1: " + captureEvery);
    }
    if (pauseStopSeconds < 1) {
      throw new IllegalArgumentException(
          "--pause-stop-threshold must be >= 1 second: " + pauseStopSeconds);
    }
    if (stagingTimeoutSeconds < 1) {
      throw new IllegalArgumentException(
          "--staging-timeout must be >= 1 second: " + stagingTimeoutSeconds);
    }
    java.util.Optional<TlsFiles> tlsFiles = tls.files();
    ClassLoader loader = StateMachineLoader.classLoader(classpath);
    StateMachine userStateMachine =
        StateMachineLoader.load(stateMachine, stateMachineOptions, loader);
    // The user's classes may look themselves up through the context class loader.
    Thread.currentThread().setContextClassLoader(loader);
    StateMachineConfig config =
        StateMachineConfig.defaults().withCaptureEvery(captureEvery, 256L << 20);
    if (map != null) {
      return new ShardedServer(this, tlsFiles, loader, config).run();
    }
    if (maxInstalls != null || installBytesInFlight != null || installDecodedBytes != null) {
      throw new IllegalArgumentException(
          "--max-installs, --install-bytes-in-flight and --install-decoded-bytes go with --map (a"
              + " node of many groups)");
    }
    if (peers == null) {
      throw new IllegalArgumentException("give --peers (or --map for a sharded cluster)");
    }
    FerryServer.Builder builder = FerryServer.builder();
    tlsFiles.ifPresent(builder::tls);
    PeerAddress self =
        PeerAddress.parseList(peers).stream()
            .filter(p -> p.id().equals(id))
            .findFirst()
            .orElseThrow(() -> new IllegalArgumentException("--id " + id + " is not in --peers"));
    metricsEndpoint(self).ifPresent(builder::metricsEndpoint);
    builder
        .clusterName(cluster)
        .selfId(id)
        .peers(PeerAddress.parseList(peers))
        .asListener(listener)
        .dataDir(data)
        .stateMachine(userStateMachine)
        .stateMachineConfig(config)
        .logPreservationEntries(logPreserve)
        .clusterSecret(secret().orElse(null))
        .chunkSendRate(chunkSendRate)
        .installLeaderLast(installLeaderLast)
        .pauseStopThreshold(java.time.Duration.ofSeconds(pauseStopSeconds))
        .stagingTimeout(java.time.Duration.ofSeconds(stagingTimeoutSeconds));
    raftProperties.forEach(builder::property);
    FerryServer server = builder.build();
    if (secret().isEmpty()) {
      System.err.println(
          "ferry: no cluster secret (--secret-file or "
              + ClusterSecret.ENV
              + "): snapshot shipping is off on this node");
    }
    CountDownLatch stopped = closeOnShutdown(server);
    server.start();
    System.out.println(
        "ferry server "
            + id
            + " started ("
            + userStateMachine.getClass().getName()
            + "), raft port "
            + server.self().raftPort()
            + (tlsFiles.isPresent() ? " (mutual TLS)" : "")
            + server
                .metricsAddress()
                .map(a -> ", metrics http://" + a.getHostString() + ":" + a.getPort() + "/metrics")
                .orElse(""));
    System.out.flush();
    server
        .retired()
        .thenAccept(
            why -> {
              System.out.println(
                  "ferry server " + id + ": removed from the cluster (" + why + "); stopped");
              System.out.flush();
              stopped.countDown();
            });
    server
        .failed()
        .thenAccept(
            cause -> {
              System.err.println(
                  "ferry server "
                      + id
                      + ": stopping, the Raft log could not be written ("
                      + cause
                      + "); restart it once that is fixed");
              System.err.flush();
              // Exit at once, like a crash: a clean shutdown can hang on Ratis's failed log, and
              // what the node acknowledged is already on disk.
              Runtime.getRuntime().halt(1);
            });
    stopped.await();
    return 0;
  }

  /**
   * Closes {@code c} when the JVM shuts down (SIGTERM, Ctrl-C); the latch counts down once it is
   * closed, so that the main thread can wait for it.
   */
  static CountDownLatch closeOnShutdown(AutoCloseable c) {
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  try {
                    c.close();
                  } catch (Exception e) {
                    System.err.println("ferry: error while stopping: " + e);
                  }
                  stopped.countDown();
                },
                "ferry-shutdown"));
    return stopped;
  }
}
