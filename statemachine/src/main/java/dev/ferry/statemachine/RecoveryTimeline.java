package dev.ferry.statemachine;

/**
 * When a replica's recovery events happened: monotonic {@link System#nanoTime()} stamps, {@code -1}
 * for an event that has not happened (yet) since this state machine instance was created. Compare
 * stamps only with other {@code nanoTime} values of the same JVM.
 *
 * @param initializeStarted Ratis called {@code initialize} (the start of a restart)
 * @param localLoadDone the node's own latest snapshot was loaded at start (or found absent)
 * @param firstLeaderContact this replica first learnt of a leader (a leader change notification or
 *     an install notification, whichever came first)
 * @param installRequested the latest install notification from a leader arrived
 * @param installDone the latest install finished: the new state is loaded and verified
 * @param reloaded the latest installed state was swapped in (Ratis resumes appending after it)
 */
public record RecoveryTimeline(
    long initializeStarted,
    long localLoadDone,
    long firstLeaderContact,
    long installRequested,
    long installDone,
    long reloaded) {}
