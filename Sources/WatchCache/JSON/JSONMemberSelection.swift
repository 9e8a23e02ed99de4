/// The members a sparse parse (``JSONParser/parse(_:keeping:)``) builds: a tree of member names
/// from the root object. A member with no further names is kept whole; one with names below it is
/// kept as an object holding only those (when it is an object; any other value is kept whole).
struct JSONMemberSelection: Sendable {
    /// The selected members of this object: raw name bytes and what to keep of each.
    private var members: [(name: [UInt8], selection: JSONMemberSelection)] = []

    /// Whether the value is kept whole.
    var isWhole: Bool { members.isEmpty }

    /// Selects the values at `paths` (each a list of member names from the root) and everything
    /// inside them. A path that is a prefix of another keeps its whole value.
    init(paths: [[String]]) {
        for path in paths { insert(path[...]) }
    }

    private init() {}

    private mutating func insert(_ path: ArraySlice<String>) {
        guard let first = path.first else { return }
        let name = Array(first.utf8)
        if let i = members.firstIndex(where: { $0.name == name }) {
            // Already kept whole, or now asked whole: whole wins.
            if members[i].selection.isWhole || path.count == 1 {
                members[i].selection = JSONMemberSelection()
            } else {
                members[i].selection.insert(path.dropFirst())
            }
        } else {
            var child = JSONMemberSelection()
            child.insert(path.dropFirst())
            members.append((name, child))
        }
    }

    /// What to keep of the member with these raw name bytes, or `nil` to skip it.
    func member(named name: UnsafeBufferPointer<UInt8>) -> JSONMemberSelection? {
        for m in members where m.name.count == name.count && m.name.elementsEqual(name) { return m.selection }
        return nil
    }
}
