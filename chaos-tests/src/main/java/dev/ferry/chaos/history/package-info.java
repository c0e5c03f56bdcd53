/**
 * The history model of Ferry's chaos tests: what concurrent workload clients did and saw.
 *
 * <p>A client takes a stamp with {@link dev.ferry.chaos.history.History#invoke()}, performs an
 * operation, takes a stamp with {@link dev.ferry.chaos.history.History#complete()} and records an
 * {@link dev.ferry.chaos.history.Op} whose {@link dev.ferry.chaos.history.Outcome} says whether the
 * operation took effect (OK), definitely did not (FAIL) or may have (UNKNOWN). A history is saved
 * and loaded in the line format of {@link dev.ferry.chaos.history.HistoryFormat}, and checked by
 * the checkers in {@code dev.ferry.chaos.checker}.
 */
package dev.ferry.chaos.history;
