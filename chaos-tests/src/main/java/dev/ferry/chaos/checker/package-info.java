/**
 * Checkers for the histories of {@link dev.ferry.chaos.history}.
 *
 * <ul>
 *   <li>{@link dev.ferry.chaos.checker.LinearizabilityChecker}: a Porcupine-style search, key by
 *       key, over a register model (READ, WRITE, CAS, INCREMENT); verdict LINEARIZABLE,
 *       NOT_LINEARIZABLE (with the longest linearizable prefix and the operations that cannot
 *       follow it) or UNKNOWN when the {@link dev.ferry.chaos.checker.Budget} runs out.
 *   <li>{@link dev.ferry.chaos.checker.CounterChecker}: lost and doubly applied increments, by
 *       bounds on every read and increment result.
 *   <li>{@link dev.ferry.chaos.checker.SetChecker}: lost writes, stale reads, phantom elements,
 *       reads out of order with the adds and reads that contradict each other; a set key is
 *       linearizable exactly when it has none of these.
 *   <li>{@link dev.ferry.chaos.checker.CheckReport}: all three, with a short summary; {@link
 *       dev.ferry.chaos.checker.CheckHistory} runs it on a saved history from the command line.
 * </ul>
 *
 * Every checker is tested against a brute-force checker on thousands of small random histories.
 */
package dev.ferry.chaos.checker;
