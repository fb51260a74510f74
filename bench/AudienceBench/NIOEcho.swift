import ArgumentParser
import NIOCore
import NIOPosix

/// A minimal echo server on SwiftNIO, the event-loop library audienced is built on: what a
/// round trip costs through NIO's event loop alone, between bench/echo.c (blocking read and
/// write) and audienced (the same loop plus the request's work).
struct NIOEcho: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "nio-echo", abstract: "Run a minimal SwiftNIO echo server on a Unix socket (until killed).")
  @Option(help: "The socket to listen on.") var socket: String

  final class Echo: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    func channelRead(context: ChannelHandlerContext, data: NIOAny) { context.write(data, promise: nil) }
    func channelReadComplete(context: ChannelHandlerContext) { context.flush() }
  }

  func run() async throws {
    let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
      .childChannelInitializer { $0.pipeline.addHandler(Echo()) }
      .bind(unixDomainSocketPath: socket, cleanupExistingSocketFile: true).get()
    try await channel.closeFuture.get()
  }
}
