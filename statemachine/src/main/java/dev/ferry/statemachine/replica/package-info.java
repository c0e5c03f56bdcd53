/**
 * The replica engine: the server's SPI for running a user's {@link
 * dev.ferry.statemachine.StateMachine}, not for users. {@link
 * dev.ferry.statemachine.replica.Replica} applies log entries, keeps sessions, digest, checkpoints
 * and membership records, captures and loads snapshots and stages installs, without a Raft library;
 * a Raft adapter (in {@code raft-integration}) drives it. Other Ferry modules may import this
 * package; users implement {@code StateMachine} and read a replica through {@code
 * FerryServer.replica()} at most.
 */
package dev.ferry.statemachine.replica;
