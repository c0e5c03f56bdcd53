package dev.ferry.statemachine;

/**
 * Marker: the state machine reports every change to its state through {@link ApplyContext#changed}.
 * The framework then maintains the state digest incrementally (available at every index at no cost)
 * and writes layered snapshots that hold only what changed since the previous one. Without it, the
 * digest is computed from a point-in-time view when asked for, and every snapshot is written in
 * full.
 */
public interface ReportsChanges {}
