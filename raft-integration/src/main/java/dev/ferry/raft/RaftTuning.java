package dev.ferry.raft;

import dev.ferry.statemachine.StateMachineConfig;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.ratis.conf.RaftProperties;
import org.apache.ratis.grpc.GrpcConfigKeys;
import org.apache.ratis.server.RaftServerConfigKeys;
import org.apache.ratis.util.SizeInBytes;
import org.apache.ratis.util.TimeDuration;

/**
 * The settings of a Ratis server Ferry runs (timeouts, log purge, snapshot trigger, raw
 * properties), held by the builder of a {@link FerryServer} with a Raft server of its own and by
 * that of a {@link FerryNode}, whose one Raft server all its groups share. {@link #properties}
 * turns them into the Ratis properties Ferry needs (see {@link FerryServer} for what each is for).
 * Not thread-safe: a builder's.
 */
final class RaftTuning {
  Duration electionTimeoutMin = Duration.ofMillis(1500);
  Duration electionTimeoutMax = Duration.ofMillis(3000);
  Duration requestTimeout = Duration.ofSeconds(10);
  Duration pauseStopThreshold = Duration.ofSeconds(60);
  Duration stagingTimeout = Duration.ofSeconds(15);
  long logPreservationEntries = 10_000;

  /** Null: the state machine config's capture interval. */
  Long snapshotTriggerEntries;

  final Map<String, String> properties = new LinkedHashMap<>();

  void electionTimeout(Duration min, Duration max) {
    this.electionTimeoutMin = min;
    this.electionTimeoutMax = max;
  }

  void pauseStopThreshold(Duration threshold) {
    this.pauseStopThreshold = positive("pause stop threshold", threshold);
  }

  void stagingTimeout(Duration timeout) {
    this.stagingTimeout = positive("staging timeout", timeout);
  }

  private static Duration positive(String what, Duration d) {
    if (d.isNegative() || d.isZero()) {
      throw new IllegalArgumentException(what + " must be > 0: " + d);
    }
    return d;
  }

  /**
   * Checks what the setters could not check alone.
   *
   * @throws IllegalArgumentException naming the bad setting
   */
  void validate() {
    if (electionTimeoutMin.isNegative()
        || electionTimeoutMin.isZero()
        || electionTimeoutMax.compareTo(electionTimeoutMin) <= 0) {
      throw new IllegalArgumentException(
          "election timeout must be 0 < min < max: "
              + electionTimeoutMin
              + ", "
              + electionTimeoutMax);
    }
    if (logPreservationEntries < 0) {
      throw new IllegalArgumentException("logPreservationEntries < 0: " + logPreservationEntries);
    }
  }

  /**
   * The Ratis properties of a server storing its groups under {@code storageDir} and listening on
   * {@code raftPort}, with the raw properties applied last; the gRPC message size is capped ({@link
   * RaftPort#capMessageSize}).
   *
   * @param captureConfig whose capture interval is the snapshot trigger when none was set
   * @param removedGroupsDir where Ratis moves the folder of a group removed with "rename"
   */
  RaftProperties properties(
      Path storageDir, int raftPort, StateMachineConfig captureConfig, Path removedGroupsDir) {
    RaftProperties p = new RaftProperties();
    RaftServerConfigKeys.setStorageDir(p, List.of(storageDir.toFile()));
    RaftServerConfigKeys.setRemovedGroupsDir(p, removedGroupsDir.toFile());
    GrpcConfigKeys.Server.setPort(p, raftPort);
    RaftServerConfigKeys.Log.Appender.setInstallSnapshotEnabled(p, false);
    RaftServerConfigKeys.Log.setPurgeUptoSnapshotIndex(p, true);
    RaftServerConfigKeys.Log.setPurgePreservationLogNum(p, logPreservationEntries);
    RaftServerConfigKeys.Log.setSegmentSizeMax(p, SizeInBytes.valueOf("8MB"));
    RaftServerConfigKeys.Read.setOption(p, RaftServerConfigKeys.Read.Option.LINEARIZABLE);
    RaftServerConfigKeys.Snapshot.setAutoTriggerEnabled(p, true);
    RaftServerConfigKeys.Snapshot.setAutoTriggerThreshold(
        p,
        snapshotTriggerEntries != null
            ? snapshotTriggerEntries
            : captureConfig.captureEveryEntries());
    RaftServerConfigKeys.setStagingTimeout(p, ms(stagingTimeout));
    RaftServerConfigKeys.Rpc.setTimeoutMin(p, ms(electionTimeoutMin));
    RaftServerConfigKeys.Rpc.setTimeoutMax(p, ms(electionTimeoutMax));
    RaftServerConfigKeys.Rpc.setFirstElectionTimeoutMin(p, ms(electionTimeoutMin));
    RaftServerConfigKeys.Rpc.setFirstElectionTimeoutMax(p, ms(electionTimeoutMax));
    RaftServerConfigKeys.Rpc.setRequestTimeout(p, ms(requestTimeout));
    RaftServerConfigKeys.Rpc.setSlownessTimeout(p, ms(requestTimeout.multipliedBy(6)));
    RaftServerConfigKeys.setCloseThreshold(p, ms(pauseStopThreshold));
    properties.forEach(p::set);
    RaftPort.capMessageSize(p);
    return p;
  }

  private static TimeDuration ms(Duration d) {
    return TimeDuration.valueOf(d.toMillis(), TimeUnit.MILLISECONDS);
  }
}
