package dev.ferry.bench.recovery;

import java.lang.reflect.Method;
import java.lang.reflect.RecordComponent;
import java.util.Optional;

/**
 * Adapter for a replica's recovery timeline: {@code ReplicatedStateMachine.timeline()} returning
 * {@code dev.ferry.statemachine.RecoveryTimeline(initializeStarted, localLoadDone,
 * firstLeaderContact, installRequested, installDone, reloaded)}, monotonic {@code System.nanoTime}
 * stamps, {@code -1} for not yet.
 *
 * <p>That API is being added to the state machine core on main. Until this branch has it, {@link
 * #of} finds no {@code timeline()} method and answers empty, and the benchmark reports only the
 * phases it can observe from outside; once it is there, {@link #of} picks it up with no change
 * here. (Reflection only so the benchmark compiles against both; when main is merged this class can
 * become a direct call: {@code sm.timeline()}.)
 *
 * @param initializeStarted Ratis called {@code initialize}
 * @param localLoadDone the node's own latest snapshot was loaded at start
 * @param firstLeaderContact the replica first learnt of a leader
 * @param installRequested the latest install notification arrived
 * @param installDone the latest install finished (loaded and verified)
 * @param reloaded the installed state was swapped in
 */
record Timeline(
    long initializeStarted,
    long localLoadDone,
    long firstLeaderContact,
    long installRequested,
    long installDone,
    long reloaded) {
  private static final String[] NAMES = {
    "initializeStarted",
    "localLoadDone",
    "firstLeaderContact",
    "installRequested",
    "installDone",
    "reloaded"
  };

  /** Whether the state machine core on the classpath reports a timeline. */
  static boolean available() {
    try {
      Class.forName("dev.ferry.statemachine.ReplicatedStateMachine").getMethod("timeline");
      return true;
    } catch (ReflectiveOperationException e) {
      return false;
    }
  }

  /**
   * {@code stateMachine}'s timeline: the record its public {@code timeline()} returns, read by
   * component name; empty if it has no such method (this build of the core has none).
   */
  static Optional<Timeline> of(Object stateMachine) {
    Method m;
    try {
      m = stateMachine.getClass().getMethod("timeline");
    } catch (NoSuchMethodException e) {
      return Optional.empty();
    }
    try {
      Object t = m.invoke(stateMachine);
      RecordComponent[] c = t.getClass().getRecordComponents();
      if (c == null) {
        throw new IllegalStateException("timeline() returned a " + t.getClass() + ", no record");
      }
      long[] v = new long[NAMES.length];
      for (int i = 0; i < NAMES.length; i++) {
        v[i] = -1;
        for (RecordComponent rc : c) {
          if (rc.getName().equals(NAMES[i])) {
            rc.getAccessor().setAccessible(true);
            v[i] = (long) rc.getAccessor().invoke(t);
          }
        }
      }
      return Optional.of(new Timeline(v[0], v[1], v[2], v[3], v[4], v[5]));
    } catch (ReflectiveOperationException e) {
      throw new IllegalStateException("timeline() failed", e);
    }
  }
}
