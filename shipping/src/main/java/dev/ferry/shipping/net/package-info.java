/**
 * What Ferry's network services share: the mutual HMAC handshake over the cluster secret ({@link
 * dev.ferry.shipping.net.Handshake}), the admission of connections still in their handshake ({@link
 * dev.ferry.shipping.net.HandshakeSlots}) and the rate limit on their log lines ({@link
 * dev.ferry.shipping.net.LogLimiter}). The chunk service uses them here; the admin service in
 * raft-integration uses them too, which is why this package is not {@code internal}.
 */
package dev.ferry.shipping.net;
