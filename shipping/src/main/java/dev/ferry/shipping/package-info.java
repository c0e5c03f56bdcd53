/**
 * Moving snapshots between the nodes of a cluster, without Ratis: a node's addresses ({@link
 * dev.ferry.shipping.PeerAddress}), the chunk service and its client ({@code chunks}), the
 * multi-source installer ({@code install}), the handshake and admission shared by Ferry's services
 * ({@code net}) and the install metrics ({@code metrics}). The server assembly on Ratis lives in
 * raft-integration, above this module.
 */
package dev.ferry.shipping;
