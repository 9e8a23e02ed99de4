/// Sent through every connection's pipeline when the server shuts down: HTTP/2 connections answer
/// with GOAWAY (no new streams; the open ones finish), HTTP/1.1 connections close once their
/// current response is done.
struct ServerQuiesce: Sendable {}
