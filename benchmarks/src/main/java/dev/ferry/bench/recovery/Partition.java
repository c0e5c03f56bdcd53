package dev.ferry.bench.recovery;

import java.io.IOException;
import java.lang.reflect.Field;
import java.util.Objects;
import org.apache.ratis.grpc.server.GrpcServicesImpl;
import org.apache.ratis.proto.RaftProtos.AppendEntriesRequestProto;
import org.apache.ratis.proto.RaftProtos.InstallSnapshotRequestProto;
import org.apache.ratis.server.RaftServer;
import org.apache.ratis.util.CodeInjectionForTesting;

/**
 * Cuts one in-JVM Raft server off from its peers without stopping it, then heals the cut: a network
 * partition of Raft traffic only (Ferry's chunk service, plain TCP, stays reachable throughout).
 *
 * <p>How: Ratis 3.3's own test hooks ({@link CodeInjectionForTesting}, in {@code ratis-common}, run
 * on the production code path and do nothing unless a test registers code). Two points are used:
 *
 * <ul>
 *   <li>{@link GrpcServicesImpl#GRPC_SEND_SERVER_REQUEST}, run by the leader's log appender thread
 *       for that follower before it sends every append-entries request (heartbeats included): while
 *       cut, the thread waits there. Each follower has its own appender thread, so the others are
 *       not held up; on heal the held request goes out (stale by then, which Raft tolerates: the
 *       follower answers with its next index and the leader continues, or notifies an install);
 *   <li>{@code RaftServerImpl.requestVote} (the constant is package-private; read by reflection),
 *       run on the receiving server: a (pre-)vote request from the cut-off server, or to it, fails
 *       with an exception, as an unreachable peer would. With pre-vote (Ratis's default) the
 *       cut-off server's term does not grow, so the heal does not depose the leader.
 * </ul>
 *
 * The install-snapshot path ({@code RaftServerImpl.installSnapshot}) is refused the same way. The
 * hooks are global to the JVM, so both clusters of the benchmark must use distinct peer ids (Ratis
 * servers are {@code r1..}, Ferry nodes {@code n1..}); only one server is cut off at a time.
 *
 * <p>Concurrency: {@link #isolate} and {@link #heal} are called by the benchmark thread; the hooks
 * run on Ratis's threads and read the volatile target.
 */
final class Partition {
  private static final Object LOCK = new Object();

  /**
   * The shortest cut: longer than the benchmark clusters' largest election timeout (3 s), so the
   * cut-off server has always timed out and had its (pre-)votes refused by the heal, however little
   * the scenario writes meanwhile.
   */
  static final long MIN_CUT_MILLIS = 5_000;

  private static volatile String cut;
  private static long cutAt;
  private static boolean installed;

  private Partition() {}

  /** Cuts server {@code peerId} off from every peer until {@link #heal}. */
  private static void isolate(String peerId) {
    Objects.requireNonNull(peerId, "peerId");
    synchronized (LOCK) {
      install();
      if (cut != null) {
        throw new IllegalStateException(cut + " is already cut off");
      }
      cut = peerId;
      cutAt = System.nanoTime();
    }
  }

  /** Waits until the current cut has lasted {@link #MIN_CUT_MILLIS}. */
  private static void awaitMinimumCut() throws InterruptedException {
    long until;
    synchronized (LOCK) {
      until = cutAt + MIN_CUT_MILLIS * 1_000_000L;
    }
    long left;
    while ((left = until - System.nanoTime()) > 0) {
      Thread.sleep(Math.max(1, left / 1_000_000L));
    }
  }

  /** Work done while a server is cut off; returns what the caller needs at the heal. */
  interface WhileCut {
    long run() throws IOException;
  }

  /**
   * Cuts server {@code peerId} off, runs {@code work}, and waits until the cut has lasted {@link
   * #MIN_CUT_MILLIS}. On return the server is still cut off (the caller heals it, timing the heal);
   * if anything fails, the cut is healed before the failure propagates.
   *
   * @return what {@code work} returned
   */
  static long isolateDuring(String peerId, WhileCut work) throws IOException {
    isolate(peerId);
    boolean ready = false;
    try {
      long result = work.run();
      awaitMinimumCut();
      ready = true;
      return result;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new java.io.InterruptedIOException("interrupted during the partition");
    } finally {
      if (!ready) {
        heal(); // AssertionError from the fixture's waits included
      }
    }
  }

  /** Heals the cut (no-op if none); held append requests go out at once. */
  static void heal() {
    synchronized (LOCK) {
      cut = null;
      LOCK.notifyAll();
    }
  }

  private static boolean involves(Object a, Object b) {
    String c = cut;
    return c != null && (c.equals(String.valueOf(a)) || c.equals(String.valueOf(b)));
  }

  private static void install() {
    if (installed) {
      return;
    }
    CodeInjectionForTesting.put(
        GrpcServicesImpl.GRPC_SEND_SERVER_REQUEST,
        (localId, remoteId, args) -> {
          if (args.length == 0 || !(args[0] instanceof AppendEntriesRequestProto r)) {
            return false;
          }
          String from = r.getServerRequest().getRequestorId().toStringUtf8();
          String to = r.getServerRequest().getReplyId().toStringUtf8();
          synchronized (LOCK) {
            while (involves(from, to)) {
              try {
                LOCK.wait();
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
              }
            }
          }
          return false;
        });
    CodeInjectionForTesting.Code refuse =
        (localId, remoteId, args) -> {
          Object remote = remoteId;
          if (remote == null
              && args.length > 0
              && args[0] instanceof InstallSnapshotRequestProto r) {
            remote = r.getServerRequest().getRequestorId().toStringUtf8();
          }
          if (involves(localId, remote)) {
            throw new IllegalStateException("benchmark partition: " + cut + " is cut off");
          }
          return false;
        };
    CodeInjectionForTesting.put(serverImplConstant("REQUEST_VOTE"), refuse);
    CodeInjectionForTesting.put(serverImplConstant("INSTALL_SNAPSHOT"), refuse);
    installed = true;
  }

  /** A package-private injection point name of {@code RaftServerImpl}. */
  private static String serverImplConstant(String name) {
    try {
      Class<?> impl =
          Class.forName(
              "org.apache.ratis.server.impl.RaftServerImpl",
              true,
              RaftServer.class.getClassLoader());
      Field f = impl.getDeclaredField(name);
      f.setAccessible(true);
      return (String) f.get(null);
    } catch (ReflectiveOperationException e) {
      throw new IllegalStateException("this Ratis has no injection point " + name, e);
    }
  }
}
