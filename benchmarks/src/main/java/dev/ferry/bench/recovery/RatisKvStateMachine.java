package dev.ferry.bench.recovery;

import dev.ferry.raft.ratis.AppendChainRepair;
import dev.ferry.raft.ratis.PausableLifeCycle;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.File;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentSkipListMap;
import org.apache.ratis.io.MD5Hash;
import org.apache.ratis.protocol.Message;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.server.RaftServer;
import org.apache.ratis.server.protocol.TermIndex;
import org.apache.ratis.server.storage.FileInfo;
import org.apache.ratis.server.storage.RaftStorage;
import org.apache.ratis.statemachine.StateMachineStorage;
import org.apache.ratis.statemachine.TransactionContext;
import org.apache.ratis.statemachine.impl.BaseStateMachine;
import org.apache.ratis.statemachine.impl.SimpleStateMachineStorage;
import org.apache.ratis.statemachine.impl.SingleFileSnapshotInfo;
import org.apache.ratis.util.MD5FileUtil;

/**
 * The Ratis baseline: a plain key-value {@link BaseStateMachine} written the way the Ratis examples
 * write one, holding the same keys and values as the Ferry store. A snapshot is one file in {@link
 * SimpleStateMachineStorage} ({@code snapshot.<term>_<index>} plus its {@code .md5}): every entry
 * in key order as {@code int keyLength, key, int valueLength, value}, uncompressed. Ratis ships
 * that file itself (leader-sent install) and calls {@link #reinitialize()}, which loads it. Like
 * Ferry's adapter it runs {@link AppendChainRepair}: without it a Ratis 3.3.0 follower whose append
 * failed right after an install never applies again, and a join can hang (it does under load); the
 * repair touches nothing else, so the install measured is Ratis's own.
 *
 * <p>Commands: a batch of puts, {@code int count} then {@code count} entries in the snapshot entry
 * form.
 *
 * <p>Concurrency: Ratis's updater thread applies, snapshots and reloads; readers ({@link #digest},
 * {@link #size}) see a concurrent map.
 */
final class RatisKvStateMachine extends BaseStateMachine {
  private final SimpleStateMachineStorage storage = new SimpleStateMachineStorage();
  private volatile ConcurrentSkipListMap<byte[], byte[]> map = newMap();
  private final java.util.concurrent.atomic.AtomicInteger reloads =
      new java.util.concurrent.atomic.AtomicInteger();
  private volatile AppendChainRepair.Watch appendRepair = AppendChainRepair.none();

  private static ConcurrentSkipListMap<byte[], byte[]> newMap() {
    return new ConcurrentSkipListMap<>(Arrays::compareUnsigned);
  }

  /** A batch-put command. */
  static byte[] putAll(List<byte[][]> entries) {
    int size = 4;
    for (byte[][] e : entries) {
      size += 8 + e[0].length + e[1].length;
    }
    ByteBuffer b = ByteBuffer.allocate(size).putInt(entries.size());
    for (byte[][] e : entries) {
      b.putInt(e[0].length).put(e[0]).putInt(e[1].length).put(e[1]);
    }
    return b.array();
  }

  @Override
  public void initialize(RaftServer server, RaftGroupId groupId, RaftStorage raftStorage)
      throws IOException {
    getLifeCycle()
        .startAndTransition(
            () -> {
              super.initialize(server, groupId, raftStorage);
              storage.init(raftStorage);
              load(storage.loadLatestSnapshot());
            });
    appendRepair = AppendChainRepair.watch(server, groupId, server.getId() + "@baseline");
  }

  @Override
  public void close() throws IOException {
    appendRepair.close();
    super.close();
  }

  @Override
  public StateMachineStorage getStateMachineStorage() {
    return storage;
  }

  @Override
  public void pause() {
    PausableLifeCycle.pause(getLifeCycle());
  }

  /** Loads the latest snapshot file (Ratis calls this after it installed one). */
  @Override
  public void reinitialize() throws IOException {
    PausableLifeCycle.reload(
        getLifeCycle(),
        () -> {
          load(storage.loadLatestSnapshot());
          reloads.incrementAndGet();
        });
  }

  private void load(SingleFileSnapshotInfo snapshot) throws IOException {
    if (snapshot == null) {
      return;
    }
    File file = snapshot.getFile().getPath().toFile();
    MD5Hash md5 = snapshot.getFile().getFileDigest();
    if (md5 != null) {
      MD5FileUtil.verifySavedMD5(file, md5);
    }
    ConcurrentSkipListMap<byte[], byte[]> m = newMap();
    try (DataInputStream in =
        new DataInputStream(
            new BufferedInputStream(Files.newInputStream(file.toPath()), 1 << 20))) {
      long n = in.readLong();
      for (long i = 0; i < n; i++) {
        byte[] k = new byte[in.readInt()];
        in.readFully(k);
        byte[] v = new byte[in.readInt()];
        in.readFully(v);
        m.put(k, v);
      }
    }
    map = m;
    updateLastAppliedTermIndex(snapshot.getTermIndex());
  }

  /**
   * Writes the whole map to a snapshot file at the last applied index (updater thread): to a
   * temporary file first, renamed into place, so a file Ratis may be shipping is never rewritten; a
   * snapshot already taken at this index is reused.
   */
  @Override
  public long takeSnapshot() throws IOException {
    TermIndex last = getLastAppliedTermIndex();
    File file = storage.getSnapshotFile(last.getTerm(), last.getIndex());
    SingleFileSnapshotInfo latest = storage.getLatestSnapshot();
    if (file.exists() && latest != null && latest.getTermIndex().equals(last)) {
      return last.getIndex();
    }
    Path tmp = file.toPath().resolveSibling(file.getName() + ".tmp");
    try (FileChannel ch =
            FileChannel.open(
                tmp,
                StandardOpenOption.CREATE,
                StandardOpenOption.TRUNCATE_EXISTING,
                StandardOpenOption.WRITE);
        DataOutputStream out =
            new DataOutputStream(new BufferedOutputStream(Channels.newOutputStream(ch), 1 << 20))) {
      out.writeLong(map.size());
      for (Map.Entry<byte[], byte[]> e : map.entrySet()) {
        out.writeInt(e.getKey().length);
        out.write(e.getKey());
        out.writeInt(e.getValue().length);
        out.write(e.getValue());
      }
      out.flush();
      ch.force(true);
    }
    Files.move(tmp, file.toPath(), StandardCopyOption.ATOMIC_MOVE);
    MD5Hash md5 = MD5FileUtil.computeAndSaveMd5ForFile(file);
    storage.updateLatestSnapshot(
        new SingleFileSnapshotInfo(new FileInfo(file.toPath(), md5), last));
    return last.getIndex();
  }

  @Override
  public CompletableFuture<Message> applyTransaction(TransactionContext trx) {
    var entry = trx.getLogEntry();
    ByteBuffer b = entry.getStateMachineLogEntry().getLogData().asReadOnlyByteBuffer();
    int n = b.getInt();
    ConcurrentSkipListMap<byte[], byte[]> m = map;
    for (int i = 0; i < n; i++) {
      byte[] k = new byte[b.getInt()];
      b.get(k);
      byte[] v = new byte[b.getInt()];
      b.get(v);
      m.put(k, v);
    }
    updateLastAppliedTermIndex(entry.getTerm(), entry.getIndex());
    return CompletableFuture.completedFuture(Message.EMPTY);
  }

  /** How many times Ratis had this replica reload after installing a snapshot. */
  int reloads() {
    return reloads.get();
  }

  /** Number of keys. */
  long size() {
    return map.size();
  }

  /** The path of the latest snapshot file, or null. */
  File latestSnapshotFile() {
    SingleFileSnapshotInfo s = storage.getLatestSnapshot();
    return s == null ? null : s.getFile().getPath().toFile();
  }

  /**
   * SHA-256 over every entry in key order, in the snapshot entry form: equal for equal states.
   * Reads a live map: call it when no writes are in flight.
   */
  String digest() {
    try {
      MessageDigest sha = MessageDigest.getInstance("SHA-256");
      ByteBuffer len = ByteBuffer.allocate(4);
      for (Map.Entry<byte[], byte[]> e : map.entrySet()) {
        for (byte[] part : new byte[][] {e.getKey(), e.getValue()}) {
          sha.update(len.clear().putInt(part.length).array());
          sha.update(part);
        }
      }
      return HexFormat.of().formatHex(sha.digest());
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
