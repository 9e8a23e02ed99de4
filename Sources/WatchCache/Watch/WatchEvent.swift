/// One event as a watcher receives it: the type, the object (or bookmark version, or error), and
/// the wire line, whose object bytes are shared with every other receiver.
public struct WatchEvent: Sendable {
    public let type: EventType
    /// The object for ADDED/MODIFIED/DELETED; the minimal bookmark object for BOOKMARK.
    public let object: KubeObject?
    /// The event's version: the object's for changes, the bookmark's for bookmarks.
    public let resourceVersion: ResourceVersion
    /// The error for ERROR events.
    public let status: Status?
    /// The encoded `object` member: shared, never copied per watcher.
    public let body: [UInt8]
    /// Whether this is the watch-list end marker (the `k8s.io/initial-events-end` bookmark).
    public let isInitialEventsEnd: Bool
    /// The bytes around ``body`` in another framing than JSON lines (protobuf's length-prefixed
    /// frames); `nil` for JSON lines.
    private let frame: (prefix: [UInt8], suffix: [UInt8])?

    init(type: EventType, object: KubeObject) {
        self.type = type
        self.object = object
        self.resourceVersion = object.resourceVersion
        self.status = nil
        self.body = object.encoded
        self.isInitialEventsEnd = false
        self.frame = nil
    }

    init(bookmark body: [UInt8], resourceVersion: ResourceVersion, initialEventsEnd: Bool) {
        self.type = .bookmark
        self.object = nil
        self.resourceVersion = resourceVersion
        self.status = nil
        self.body = body
        self.isInitialEventsEnd = initialEventsEnd
        self.frame = nil
    }

    init(error: Status) {
        self.type = .error
        self.object = nil
        self.resourceVersion = .zero
        self.status = error
        self.body = error.encoded
        self.isInitialEventsEnd = false
        self.frame = nil
    }

    private init(_ other: WatchEvent, body: [UInt8], frame: (prefix: [UInt8], suffix: [UInt8])?) {
        self.type = other.type
        self.object = other.object
        self.resourceVersion = other.resourceVersion
        self.status = other.status
        self.body = body
        self.isInitialEventsEnd = other.isInitialEventsEnd
        self.frame = frame
    }

    /// The same event with another encoding of its object (a server's Table form, say); `object`,
    /// `status` and the version are kept.
    public func replacingBody(_ body: [UInt8]) -> WatchEvent {
        WatchEvent(self, body: body, frame: frame)
    }

    /// The same event in another framing: `prefix`, `body`, `suffix` on the wire instead of a JSON
    /// line (a protobuf frame, say, whose body is the object's protobuf).
    public func replacingFrame(prefix: [UInt8], body: [UInt8], suffix: [UInt8] = []) -> WatchEvent {
        WatchEvent(self, body: body, frame: (prefix, suffix))
    }

    /// The bytes before ``body`` on the wire: `{"type":"<TYPE>","object":` for a JSON line.
    public var linePrefix: [UInt8] {
        if let frame { return frame.prefix }
        return switch type {
        case .added: Self.addedPrefix
        case .modified: Self.modifiedPrefix
        case .deleted: Self.deletedPrefix
        case .bookmark: Self.bookmarkPrefix
        case .error: Self.errorPrefix
        }
    }

    /// `}` and a newline — the bytes after ``body`` in a JSON line.
    public static let lineSuffix: [UInt8] = Array("}\n".utf8)

    /// The bytes after ``body`` on the wire: ``lineSuffix`` for a JSON line.
    public var suffix: [UInt8] { frame?.suffix ?? Self.lineSuffix }

    /// The whole event as sent: the newline-terminated JSON line (`{"type":…,"object":…}\n`), or
    /// the frame when another framing replaced it.
    ///
    /// Concatenates; transports that can write the three parts separately should, to avoid the copy.
    public var line: [UInt8] {
        var out = linePrefix
        let suffix = self.suffix
        out.reserveCapacity(out.count + body.count + suffix.count)
        out.append(contentsOf: body)
        out.append(contentsOf: suffix)
        return out
    }

    private static func prefix(_ type: EventType) -> [UInt8] { Array("{\"type\":\"\(type.rawValue)\",\"object\":".utf8) }
    private static let addedPrefix = prefix(.added)
    private static let modifiedPrefix = prefix(.modified)
    private static let deletedPrefix = prefix(.deleted)
    private static let bookmarkPrefix = prefix(.bookmark)
    private static let errorPrefix = prefix(.error)
}

extension WatchEvent {
    /// A BOOKMARK for `resource` at `version`: an object with only `kind`, `apiVersion` and
    /// `metadata.resourceVersion` (plus the `k8s.io/initial-events-end` annotation for the
    /// watch-list end marker).
    static func bookmark(for resource: ResourceDescriptor, at version: ResourceVersion, initialEventsEnd: Bool = false) -> WatchEvent {
        var metadata = JSONObject()
        metadata["resourceVersion"] = .string(version.description)
        if initialEventsEnd {
            metadata["annotations"] = .object(JSONObject([("k8s.io/initial-events-end", .string("true"))]))
        }
        let object = JSONObject([("kind", .string(resource.kind)), ("apiVersion", .string(resource.apiVersion)), ("metadata", .object(metadata))])
        return WatchEvent(bookmark: JSONWriter.encode(.object(object)), resourceVersion: version, initialEventsEnd: initialEventsEnd)
    }
}
