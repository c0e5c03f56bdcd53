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
  private static final Method TIMELINE = find();

  /** Whether the state machine on the classpath reports a timeline. */
  static boolean available() {
    return TIMELINE != null;
  }

  /** {@code stateMachine}'s timeline, or empty if this build of the core has none. */
  static Optional<Timeline> of(Object stateMachine) {
    if (TIMELINE == null) {
      return Optional.empty();
    }
    try {
      Object t = TIMELINE.invoke(stateMachine);
      RecordComponent[] c = t.getClass().getRecordComponents();
      long[] v = new long[6];
      String[] names = {
        "initializeStarted",
        "localLoadDone",
        "firstLeaderContact",
        "installRequested",
        "installDone",
        "reloaded"
      };
      for (int i = 0; i < names.length; i++) {
        v[i] = -1;
        for (RecordComponent rc : c) {
          if (rc.getName().equals(names[i])) {
            v[i] = (long) rc.getAccessor().invoke(t);
          }
        }
      }
      return Optional.of(new Timeline(v[0], v[1], v[2], v[3], v[4], v[5]));
    } catch (ReflectiveOperationException e) {
      throw new IllegalStateException("timeline() failed", e);
    }
  }

  private static Method find() {
    try {
      return Class.forName("dev.ferry.statemachine.ReplicatedStateMachine").getMethod("timeline");
    } catch (ReflectiveOperationException e) {
      return null;
    }
  }
}
