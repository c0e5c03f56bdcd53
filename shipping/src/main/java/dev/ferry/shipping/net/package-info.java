/**
 * What Ferry's network services share: the mutual HMAC handshake over the cluster secret ({@link
 * dev.ferry.shipping.net.Handshake}), the admission of connections still in their handshake ({@link
 * dev.ferry.shipping.net.HandshakeSlots}) and the rate limit on their log lines ({@link
 * dev.ferry.shipping.net.LogLimiter}). The chunk service uses them; it carries the admin service's
 * requests too, so this is the one place these protections live.
 */
package dev.ferry.shipping.net;
