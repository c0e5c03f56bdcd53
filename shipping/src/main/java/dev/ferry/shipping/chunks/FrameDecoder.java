package dev.ferry.shipping.chunks;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import java.util.List;

/**
 * Splits the byte stream into frames ({@code u32 length | u8 type | body}) and decodes each into a
 * {@link Message} with a direction-specific {@link BodyDecoder}.
 *
 * <p>A length of zero or above the current limit is rejected as soon as the four length bytes
 * arrive, before any body is buffered, so a peer can never make this side buffer more than the
 * limit. The limit starts small (the handshake) and is raised once the peer is authenticated. Bytes
 * left over when the connection closes are a truncated frame. After the first error the decoder
 * discards everything, so one bad connection yields exactly one error.
 *
 * <p>Concurrency: confined to the channel's event loop, like every Netty handler.
 */
final class FrameDecoder extends ByteToMessageDecoder {

  /**
   * Decodes the body of a frame of the given type; the body buffer is only valid during the call.
   */
  @FunctionalInterface
  interface BodyDecoder {
    Message decode(int type, ByteBuf body) throws ProtocolException;
  }

  private final BodyDecoder bodies;
  private int maxLength;
  private boolean failed;

  FrameDecoder(BodyDecoder bodies, int maxLength) {
    this.bodies = bodies;
    this.maxLength = maxLength;
  }

  /** Sets the largest frame (type + body) accepted from now on. Call on the event loop. */
  void maxLength(int maxLength) {
    this.maxLength = maxLength;
  }

  @Override
  protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out)
      throws ProtocolException {
    if (failed) {
      in.skipBytes(in.readableBytes());
      return;
    }
    try {
      while (in.readableBytes() >= 4) {
        long length = in.getUnsignedInt(in.readerIndex());
        if (length < 1 || length > maxLength) {
          throw new ProtocolException(
              "frame length " + length + " out of range (1.." + maxLength + ")");
        }
        if (in.readableBytes() < 4 + length) {
          return;
        }
        in.skipBytes(4);
        int type = in.readUnsignedByte();
        ByteBuf body = in.readSlice((int) length - 1);
        out.add(bodies.decode(type, body));
      }
    } catch (ProtocolException | RuntimeException e) {
      failed = true;
      in.skipBytes(in.readableBytes());
      throw e;
    }
  }

  @Override
  protected void decodeLast(ChannelHandlerContext ctx, ByteBuf in, List<Object> out)
      throws ProtocolException {
    decode(ctx, in, out);
    if (!failed && in.isReadable()) {
      int pending = in.readableBytes();
      failed = true;
      in.skipBytes(pending);
      throw new ProtocolException(
          "connection closed in the middle of a frame (" + pending + " bytes of it received)");
    }
  }
}
