import Synchronization

/// Warnings gathered while a write runs (inside the registry's transform), for its response.
///
/// As kube-apiserver's warning recorder: a message with control characters is dropped (it could
/// not be a header), repeats are dropped, each message is cut at 256 characters and the whole at
/// 4,096 (later ones are left out).
final class WriteWarnings: Sendable {
    private let messages = Mutex<[String]>([])
    static let messageLimit = 256
    static let totalLimit = 4096

    func add(_ new: [String]) {
        guard !new.isEmpty else { return }
        messages.withLock { messages in
            var total = messages.reduce(0) { $0 + $1.count }
            for message in new {
                guard !message.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else { continue }
                let text = message.count > Self.messageLimit ? String(message.prefix(Self.messageLimit)) : message
                guard !messages.contains(text), total + text.count <= Self.totalLimit else { continue }
                messages.append(text)
                total += text.count
            }
        }
    }

    /// `Warning` headers (RFC 7234 code 299) for the response.
    var headers: [(String, String)] {
        messages.withLock { $0 }.map { message in
            var escaped = ""
            for c in message {
                if c == "\\" || c == "\"" { escaped.append("\\") }
                escaped.append(c)
            }
            return ("warning", "299 - \"\(escaped)\"")
        }
    }
}
