package dev.ferry.examples.counter;

import dev.ferry.client.FerryClient;
import dev.ferry.shipping.PeerAddress;
import java.util.List;

/**
 * The counter's client, the whole client side: {@link FerryClient} finds the leader, retries, and
 * applies every {@link #add} at most once.
 *
 * @param client the session client the counter's commands go through
 */
public record CounterClient(FerryClient client) implements AutoCloseable {

  /** Connects to the counter cluster {@code clusterName} through any of {@code peers}. */
  public static CounterClient connect(String clusterName, List<PeerAddress> peers) {
    return new CounterClient(FerryClient.connect(clusterName, peers));
  }

  /** Adds {@code delta} and returns the new value. */
  public long add(long delta) {
    return Counter.decode(client.submit(Counter.encode(delta)));
  }

  /** The value, linearizable. */
  public long get() {
    return Counter.decode(client.query(new byte[0]));
  }

  @Override
  public void close() {
    client.close();
  }
}
