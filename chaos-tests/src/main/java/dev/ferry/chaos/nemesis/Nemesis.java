package dev.ferry.chaos.nemesis;

import dev.ferry.chaos.harness.ChaosCluster;
import java.util.Random;

/**
 * One kind of fault, injected into a {@link ChaosCluster} and healed again.
 *
 * <p>Contract: {@link #inject} puts one fault in place and returns what it did, in a few words, for
 * the run's summary (or a sentence starting with "nothing" when the cluster's state did not allow
 * the fault, e.g. no leader to isolate); {@link #heal} undoes whatever this nemesis still has in
 * place and is idempotent. Both are called by one scheduler thread, never concurrently with each
 * other for the same instance, and may block for as long as the fault takes to set up or undo
 * (seconds). Network nemeses heal the whole network.
 */
public interface Nemesis extends java.io.Closeable {
  /** A short name for summaries, e.g. {@code partition-leader}. */
  String name();

  /** Whether this nemesis can run on {@code cluster} (network capabilities, clock, disks). */
  default boolean supports(ChaosCluster cluster) {
    return true;
  }

  /**
   * Injects one fault.
   *
   * @param random the run's seeded randomness, for the choice of nodes and magnitudes
   * @return what was done, for the summary
   * @throws Exception if the fault could not be put in place (the run fails)
   */
  String inject(ChaosCluster cluster, Random random) throws Exception;

  /**
   * Undoes what this nemesis has in place; does nothing if nothing is.
   *
   * @return what was done, for the summary (empty if nothing)
   * @throws Exception if it could not be undone (the run fails)
   */
  String heal(ChaosCluster cluster) throws Exception;

  /**
   * The run's last heal, after the workload stopped: undoes what is in place and finishes what the
   * nemesis must have done by the end of a run. Default: {@link #heal}.
   *
   * @return what was done, for the summary (empty if nothing)
   * @throws Exception if it could not be undone or finished (the run fails)
   */
  default String finalHeal(ChaosCluster cluster) throws Exception {
    return heal(cluster);
  }

  /** Releases what the nemesis holds (clients), after its last heal. Default: nothing. */
  @Override
  default void close() throws java.io.IOException {}
}
