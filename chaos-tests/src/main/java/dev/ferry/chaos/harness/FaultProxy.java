package dev.ferry.chaos.harness;

import java.io.Closeable;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An in-process TCP proxy that can freeze links: the fallback network of {@link ChaosCluster} when
 * network namespaces cannot be made. Each listening address forwards to one target and belongs to a
 * named link; a frozen link stops moving bytes on every connection it carries (in both directions)
 * and holds new connections without connecting them onward, which the endpoints see as a partition
 * (TCP keeps the data they sent until the link thaws, as after real packet loss with
 * retransmission). Thawing resumes every connection.
 *
 * <p>Concurrency: one selector thread owns every channel, buffer and link; the control methods hand
 * their change to that thread and wait until it is in place. Thread-safe.
 */
final class FaultProxy implements Closeable {
  private static final Logger LOG = LoggerFactory.getLogger(FaultProxy.class);

  private static final int BUFFER = 64 * 1024;

  private final Selector selector;
  private final Thread thread;
  private final ConcurrentLinkedQueue<Runnable> tasks = new ConcurrentLinkedQueue<>();
  private final Map<String, Link> links = new HashMap<>(); // selector thread only
  private volatile boolean closed;

  FaultProxy() throws IOException {
    this.selector = Selector.open();
    this.thread = new Thread(this::loop, "fault-proxy");
    thread.setDaemon(true);
    thread.start();
  }

  /** A named group of listeners whose connections freeze and thaw together. */
  private static final class Link {
    final String name;
    final Set<Pipe> pipes = new LinkedHashSet<>();
    final List<ServerSocketChannel> listeners = new ArrayList<>();
    boolean frozen;

    Link(String name) {
      this.name = name;
    }
  }

  /** One proxied connection: the accepted socket and the one to the target. */
  private final class Pipe {
    final Link link;
    final InetSocketAddress target;
    final SocketChannel inbound;
    SocketChannel outbound;
    SelectionKey inKey;
    SelectionKey outKey;
    boolean connected;
    final ByteBuffer toTarget = ByteBuffer.allocate(BUFFER); // write mode
    final ByteBuffer toClient = ByteBuffer.allocate(BUFFER); // write mode

    Pipe(Link link, SocketChannel inbound, InetSocketAddress target) {
      this.link = link;
      this.inbound = inbound;
      this.target = target;
    }

    void connect() throws IOException {
      outbound = SocketChannel.open();
      outbound.configureBlocking(false);
      outbound.setOption(StandardSocketOptions.TCP_NODELAY, true);
      inKey = inbound.register(selector, 0, this);
      if (outbound.connect(target)) {
        outKey = outbound.register(selector, 0, this);
        connected = true;
      } else {
        outKey = outbound.register(selector, SelectionKey.OP_CONNECT, this);
      }
      update();
    }

    /** Sets both keys' interest from the buffers and the link's state. */
    void update() {
      if (!connected || !inbound.isOpen()) {
        return;
      }
      if (link.frozen) {
        inKey.interestOps(0);
        outKey.interestOps(0);
        return;
      }
      inKey.interestOps(
          (toTarget.hasRemaining() ? SelectionKey.OP_READ : 0)
              | (toClient.position() > 0 ? SelectionKey.OP_WRITE : 0));
      outKey.interestOps(
          (toClient.hasRemaining() ? SelectionKey.OP_READ : 0)
              | (toTarget.position() > 0 ? SelectionKey.OP_WRITE : 0));
    }

    void handle(SelectionKey key) throws IOException {
      if (key == outKey && key.isConnectable()) {
        outbound.finishConnect();
        connected = true;
        update();
        return;
      }
      if (link.frozen) {
        update(); // selected before the freeze: move nothing
        return;
      }
      boolean in = key == inKey;
      SocketChannel self = in ? inbound : outbound;
      SocketChannel other = in ? outbound : inbound;
      ByteBuffer incoming = in ? toTarget : toClient;
      ByteBuffer outgoing = in ? toClient : toTarget;
      if (key.isReadable() && self.read(incoming) < 0) {
        close();
        return;
      }
      if (key.isWritable()) {
        outgoing.flip();
        self.write(outgoing);
        outgoing.compact();
      }
      if (incoming.position() > 0) {
        incoming.flip();
        other.write(incoming);
        incoming.compact();
      }
      update();
    }

    void close() {
      link.pipes.remove(this);
      closeQuietly(inbound);
      if (outbound != null) {
        closeQuietly(outbound);
      }
    }
  }

  /**
   * Listens on {@code bind} and forwards each connection to {@code target}, as part of link {@code
   * link} (created on first use, not frozen).
   *
   * @throws IOException if {@code bind} cannot be bound
   */
  void listen(String link, InetSocketAddress bind, InetSocketAddress target) throws IOException {
    Objects.requireNonNull(target, "target");
    onLoop(
        () -> {
          ServerSocketChannel server = ServerSocketChannel.open();
          try {
            server.setOption(StandardSocketOptions.SO_REUSEADDR, true);
            server.bind(bind, 128);
            server.configureBlocking(false);
            Link l = links.computeIfAbsent(link, Link::new);
            server.register(selector, SelectionKey.OP_ACCEPT, new Object[] {l, target});
            l.listeners.add(server);
          } catch (IOException e) {
            closeQuietly(server);
            throw new IOException("cannot listen on " + bind + " for " + link, e);
          }
        });
  }

  /** Stops every connection of {@code link}, and holds new ones, until it thaws. */
  void freeze(String link) throws IOException {
    onLoop(() -> setFrozen(link, true));
  }

  /** Resumes {@code link}'s connections and connects the ones it held. */
  void thaw(String link) throws IOException {
    onLoop(() -> setFrozen(link, false));
  }

  /** Thaws every link. */
  void thawAll() throws IOException {
    onLoop(
        () -> {
          for (String name : new ArrayList<>(links.keySet())) {
            setFrozen(name, false);
          }
        });
  }

  /** The number of open proxied connections of {@code link} (for tests). */
  int connections(String link) throws IOException {
    int[] n = new int[1];
    onLoop(
        () -> {
          Link l = links.get(link);
          n[0] = l == null ? 0 : l.pipes.size();
        });
    return n[0];
  }

  private void setFrozen(String name, boolean frozen) throws IOException {
    Link l = links.get(name);
    if (l == null) {
      throw new IllegalArgumentException("no such link: " + name);
    }
    l.frozen = frozen;
    for (Pipe p : new ArrayList<>(l.pipes)) {
      if (!frozen && p.outbound == null) {
        try {
          p.connect();
        } catch (IOException e) {
          p.close();
        }
      } else {
        p.update();
      }
    }
  }

  @FunctionalInterface
  private interface LoopTask {
    void run() throws IOException;
  }

  /** Runs {@code task} on the selector thread and waits for it. */
  private void onLoop(LoopTask task) throws IOException {
    if (closed) {
      throw new IOException("proxy closed");
    }
    CompletableFuture<Void> done = new CompletableFuture<>();
    tasks.add(
        () -> {
          try {
            task.run();
            done.complete(null);
          } catch (IOException | RuntimeException e) {
            done.completeExceptionally(e);
          }
        });
    selector.wakeup();
    try {
      done.get(30, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted waiting for the proxy");
    } catch (TimeoutException e) {
      throw new IOException("proxy thread did not answer", e);
    } catch (ExecutionException e) {
      if (e.getCause() instanceof IOException io) {
        throw io;
      }
      if (e.getCause() instanceof RuntimeException re) {
        throw re;
      }
      throw new IOException(e.getCause());
    }
  }

  private void loop() {
    while (!closed) {
      try {
        selector.select(1000);
        for (Runnable r; (r = tasks.poll()) != null; ) {
          r.run();
        }
        for (var it = selector.selectedKeys().iterator(); it.hasNext(); ) {
          SelectionKey key = it.next();
          it.remove();
          if (!key.isValid()) {
            continue;
          }
          if (key.attachment() instanceof Pipe pipe) {
            try {
              pipe.handle(key);
            } catch (IOException e) {
              pipe.close();
            }
          } else if (key.isAcceptable()) {
            accept(key);
          }
        }
      } catch (IOException | RuntimeException e) {
        if (!closed) {
          LOG.warn("fault-proxy: " + e);
        }
      }
    }
  }

  private void accept(SelectionKey key) throws IOException {
    Object[] att = (Object[]) key.attachment();
    Link link = (Link) att[0];
    InetSocketAddress target = (InetSocketAddress) att[1];
    SocketChannel ch = ((ServerSocketChannel) key.channel()).accept();
    if (ch == null) {
      return;
    }
    ch.configureBlocking(false);
    ch.setOption(StandardSocketOptions.TCP_NODELAY, true);
    Pipe p = new Pipe(link, ch, target);
    link.pipes.add(p);
    if (!link.frozen) {
      try {
        p.connect();
      } catch (IOException e) {
        p.close();
      }
    }
  }

  private static void closeQuietly(Closeable c) {
    try {
      c.close();
    } catch (IOException ignored) {
      // closing anyway
    }
  }

  /** Closes every listener and connection and stops the thread. */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    try {
      onLoop(
          () -> {
            for (Link l : links.values()) {
              l.listeners.forEach(FaultProxy::closeQuietly);
              new ArrayList<>(l.pipes).forEach(Pipe::close);
            }
          });
    } catch (IOException ignored) {
      // closing anyway
    }
    closed = true;
    selector.wakeup();
    try {
      thread.join(5000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    closeQuietly(selector);
  }
}
