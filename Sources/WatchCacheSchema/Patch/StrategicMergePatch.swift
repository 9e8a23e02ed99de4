import WatchCache

/// Strategic merge patch (`application/strategic-merge-patch+json`), applied as kube-apiserver
/// applies it to the built-in kinds.
///
/// Objects merge member by member and `null` deletes, as in a JSON merge patch; the schema decides
/// the rest. A list whose field has patch strategy `merge` merges element by element: elements that
/// are objects are matched by the field's merge key (containers by `name`, ports by `containerPort`)
/// and merged recursively, primitive elements are kept as a set. Other lists are replaced. The patch
/// may carry directives:
/// - `"$patch": "replace"` in an object replaces it whole, `"$patch": "delete"` removes it; in a list
///   element, `delete` removes the elements with that merge key and `replace` replaces the list;
/// - `"$retainKeys": [...]` keeps only the named members (union types such as volume sources);
/// - `"$setElementOrder/<list>": [...]` gives the order of the merged list;
/// - `"$deleteFromPrimitiveList/<list>": [...]` removes values from a merged primitive list.
///
/// Directives never reach the result.
public enum StrategicMergePatch {
    /// Applies `patch` to `original`, an object of the message type `type`.
    public static func apply(_ patch: JSONValue, to original: JSONObject, type: MessageSchema,
                             in schema: APISchema) throws(PatchError) -> JSONObject {
        guard case .object(let patchObject) = patch else { throw .badJSONDocument }
        let context = PatchContext(shape: .message(type), schema: schema)
        return try mergeObject(original, patchObject, context)
    }

    // MARK: Objects

    private static let directive = "$patch"
    private static let retainKeys = "$retainKeys"
    private static let setElementOrderPrefix = "$setElementOrder/"
    private static let deleteFromPrimitiveListPrefix = "$deleteFromPrimitiveList/"

    private static func mergeObject(_ original: JSONObject, _ patch: JSONObject,
                                    _ context: PatchContext) throws(PatchError) -> JSONObject {
        var patch = patch
        if let marker = patch[directive] {
            switch marker {
            case .string("replace"):
                patch[directive] = nil
                return cleaned(patch)
            case .string("delete"):
                return JSONObject()
            default:
                throw .unknownPatchType(marker, patch)
            }
        }
        var original = original
        try applyRetainKeys(&original, &patch)
        try applySetElementOrder(&original, &patch, context)

        for (patchKey, patchValue) in patch.members {
            var key = patchKey
            var isDeleteList = false
            if patchKey.hasPrefix(deleteFromPrimitiveListPrefix) {
                key = String(patchKey.dropFirst(deleteFromPrimitiveListPrefix.count))
                isDeleteList = true
            } else if patchKey.hasPrefix("$deleteFromPrimitiveList") {
                throw .badPrimitiveListFormat
            } else if patchKey.hasPrefix("$setElementOrder") {
                throw .badSetElementOrderFormat
            }
            if patchValue == .null {
                original[key] = nil
                continue
            }
            guard let originalValue = original[key], sameKind(originalValue, patchValue) else {
                if !isDeleteList { original[key] = cleaned(patchValue) }
                continue
            }
            let member = context.member(key)
            switch (originalValue, patchValue) {
            case (.object(let originalObject), .object(let patchObject)):
                if member.strategy.contains(.replace) {
                    original[key] = .object(cleaned(patchObject))
                } else {
                    original[key] = .object(try mergeObject(originalObject, patchObject, member.context))
                }
            case (.array(let originalList), .array(let patchList)):
                if member.strategy.contains(.merge) || isDeleteList {
                    original[key] = .array(try mergeList(originalList, patchList, member, isDeleteList: isDeleteList))
                } else {
                    original[key] = cleaned(patchValue)
                }
            default:
                original[key] = cleaned(patchValue)
            }
        }
        return original
    }

    /// `$retainKeys`: every member the patch sets must be listed; members of the original that are
    /// not listed are cleared.
    private static func applyRetainKeys(_ original: inout JSONObject, _ patch: inout JSONObject) throws(PatchError) {
        guard let retain = patch[retainKeys] else { return }
        patch[retainKeys] = nil
        guard case .array(let kept) = retain else { throw .badRetainKeysFormat }
        let names = Set(kept.compactMap(\.stringValue))
        for (key, value) in patch.members where value != .null {
            if key.hasPrefix(deleteFromPrimitiveListPrefix) || key.hasPrefix(setElementOrderPrefix) { continue }
            guard names.contains(key) else { throw .badRetainKeysFormat }
        }
        for key in original.keys where !names.contains(key) {
            original[key] = nil
        }
    }

    /// `$setElementOrder/<list>`: merges the list (if the patch has it) and orders the result: the
    /// listed elements in the directive's order, the others where they were.
    private static func applySetElementOrder(_ original: inout JSONObject, _ patch: inout JSONObject,
                                             _ context: PatchContext) throws(PatchError) {
        for (directiveKey, orderValue) in patch.members where directiveKey.hasPrefix(setElementOrderPrefix) {
            patch[directiveKey] = nil
            guard case .array(let order) = orderValue else { throw .badArgument(expected: "list", orderValue) }
            let key = String(directiveKey.dropFirst(setElementOrderPrefix.count))
            guard !key.isEmpty else { throw .badSetElementOrderFormat }
            var originalList: [JSONValue]?
            var patchList: [JSONValue]?
            if let value = original[key] {
                guard case .array(let list) = value else { throw .badArgument(expected: "list", value) }
                originalList = list
            }
            if let value = patch[key] {
                guard case .array(let list) = value else { throw .badArgument(expected: "list", value) }
                patchList = list
            }
            let member = context.member(key)
            let mergeKey = member.mergeKey ?? ""
            try validateOrder(patchList ?? [], order, mergeKey)

            let merged: [JSONValue]
            // The order the server-only elements keep. kube-apiserver reads it from the original
            // list after merging into it in place: elements deleted by the patch shift the rest
            // forward and appended ones fill the freed places. Mirrored here, so that elements
            // interleave exactly as there.
            var serverOrder = originalList ?? []
            switch (originalList, patchList) {
            case (let originalList?, nil):
                merged = originalList
            case (nil, let patchList?):
                merged = cleanedList(patchList)
            case (let originalList?, let patchList?):
                if member.strategy.contains(.merge) {
                    var inPlace: [JSONValue]?
                    merged = try mergeList(originalList, patchList, member, isDeleteList: false, inPlace: &inPlace)
                    if let inPlace {
                        serverOrder = Array(inPlace.prefix(originalList.count))
                            + originalList.suffix(max(0, originalList.count - inPlace.count))
                    }
                } else {
                    merged = cleanedList(patchList)
                }
            case (nil, nil):
                continue
            }
            let objects = try elementKind(originalList ?? [], patchList ?? []) == .object
                || (mergeKey != "" && (originalList ?? []).isEmpty && (patchList ?? []).isEmpty)
            let (inOrder, serverOnly) = try partition(merged, by: order, mergeKey: objects ? mergeKey : "")
            original[key] = .array(try normalizedOrder(inOrder, serverOnly, patchOrder: order,
                                                       serverOrder: serverOrder, mergeKey: objects ? mergeKey : ""))
            patch[key] = nil
        }
    }

    /// Checks that the patch's elements appear in the `$setElementOrder` list, in its order.
    private static func validateOrder(_ patchList: [JSONValue], _ order: [JSONValue], _ mergeKey: String) throws(PatchError) {
        if patchList.isEmpty || order.isEmpty { return }
        let elements = mergeKey.isEmpty ? patchList : patchList.filter { !isDirective($0, "delete") }
        var p = 0
        var o = 0
        while p < elements.count && o < order.count {
            if case .object(let object) = elements[p], object[directive] != nil {
                p += 1
                continue
            }
            if try sameElement(elements[p], order[o], mergeKey) { p += 1 }
            o += 1
        }
        if p < elements.count && o >= order.count {
            throw PatchError(.badRequest, "The order in patch list:\n\(JSONWriter.text(.array(patchList)))\n doesn't match $setElementOrder list:\n\(JSONWriter.text(.array(order)))\n")
        }
    }

    // MARK: Lists

    private enum ElementKind: Equatable { case none, null, bool, number, string, object }

    /// Merges two lists of a field with patch strategy `merge` (or applies a
    /// `$deleteFromPrimitiveList`).
    private static func mergeList(_ original: [JSONValue], _ patch: [JSONValue], _ member: PatchContext.Member,
                                  isDeleteList: Bool) throws(PatchError) -> [JSONValue] {
        var inPlace: [JSONValue]?
        return try mergeList(original, patch, member, isDeleteList: isDeleteList, inPlace: &inPlace)
    }

    /// As above; `inPlace` receives the merged list before it is ordered, when the merge matched
    /// elements by merge key into the original (see ``applySetElementOrder``).
    private static func mergeList(_ original: [JSONValue], _ patch: [JSONValue], _ member: PatchContext.Member,
                                  isDeleteList: Bool, inPlace: inout [JSONValue]?) throws(PatchError) -> [JSONValue] {
        if original.isEmpty && patch.isEmpty { return original }
        let kind = try elementKind(original, patch)
        if kind != .object {
            if isDeleteList {
                let deleted = Set(patch)
                return original.filter { !deleted.contains($0) }
            }
            var merged: [JSONValue] = []
            var seen: Set<JSONValue> = []
            for value in original + patch where seen.insert(value).inserted {
                merged.append(value)
            }
            let (inPatch, serverOnly) = try partition(merged, by: patch, mergeKey: "")
            return try normalizedOrder(inPatch, serverOnly, patchOrder: patch, serverOrder: original, mergeKey: "")
        }
        guard let mergeKey = member.mergeKey, !mergeKey.isEmpty else {
            throw PatchError(.badRequest, "cannot merge lists without merge key for \(member.context.name)")
        }
        // Elements carrying `$patch` first: deletions and a whole-list replacement.
        var base = original
        var plain: [JSONValue] = []
        var replace = false
        var deletedKeys: Set<JSONValue> = []
        for element in patch {
            guard case .object(let object) = element else { throw .badArgument(expected: "map", element) }
            guard let marker = object[directive] else {
                plain.append(element)
                continue
            }
            switch marker {
            case .string("delete"):
                guard let value = object[mergeKey] else { throw .noMergeKey(element, mergeKey) }
                deletedKeys.insert(value)
            case .string("replace"):
                replace = true
            case .string("merge"):
                throw PatchError(.badRequest, "merging lists cannot yet be specified in the patch")
            default:
                throw .unknownPatchType(marker, object)
            }
        }
        if !deletedKeys.isEmpty {
            base.removeAll { $0[mergeKey].map { deletedKeys.contains($0) } ?? false }
        }
        let patchElements: [JSONValue]
        if replace {
            base = cleanedList(plain)
            patchElements = []
        } else {
            patchElements = plain
        }
        var merged = base
        // Where each merge-key value first stands in `merged`.
        var indexByKey: [JSONValue: Int] = [:]
        for (i, candidate) in merged.enumerated() {
            if let value = candidate[mergeKey], indexByKey[value] == nil { indexByKey[value] = i }
        }
        for element in patchElements {
            guard case .object(let object) = element else { throw .badArgument(expected: "map", element) }
            guard let value = object[mergeKey] else { throw .noMergeKey(element, mergeKey) }
            if let index = indexByKey[value], case .object(let existing) = merged[index] {
                merged[index] = .object(try mergeObject(existing, object, member.context))
            } else {
                indexByKey[value] = merged.count
                merged.append(.object(cleaned(object)))
            }
        }
        if !replace { inPlace = merged }
        let (inPatch, serverOnly) = try partition(merged, by: patchElements, mergeKey: mergeKey)
        return try normalizedOrder(inPatch, serverOnly, patchOrder: patchElements, serverOrder: base, mergeKey: mergeKey)
    }

    /// The common kind of the elements of both lists; lists of lists and mixed lists are errors.
    private static func elementKind(_ lists: [JSONValue]...) throws(PatchError) -> ElementKind {
        var kind = ElementKind.none
        for list in lists {
            for value in list {
                let current: ElementKind
                switch value {
                case .array: throw .listOfLists
                case .null: current = .null
                case .bool: current = .bool
                case .number: current = .number
                case .string: current = .string
                case .object: current = .object
                }
                if kind == .none {
                    kind = current
                } else if kind != current {
                    throw PatchError(.badRequest, "list element types are not identical: \(lists.map { JSONWriter.text(.array($0)) })")
                }
            }
        }
        return kind
    }

    /// Splits `list` into the elements that `reference` has (by merge key, or by value) and the rest.
    private static func partition(_ list: [JSONValue], by reference: [JSONValue],
                                  mergeKey: String) throws(PatchError) -> ([JSONValue], [JSONValue]) {
        var present: [JSONValue] = []
        var absent: [JSONValue] = []
        let index = OrderIndex(reference, mergeKey: mergeKey)
        for element in list {
            let found: Bool
            if mergeKey.isEmpty {
                found = index.position(of: element) != nil
            } else {
                guard case .object(let object) = element else { throw .badArgument(expected: "map", element) }
                guard let value = object[mergeKey] else { throw .noMergeKey(element, mergeKey) }
                found = index.positions[value] != nil
            }
            if found { present.append(element) } else { absent.append(element) }
        }
        return (present, absent)
    }

    /// The merged list in its final order: the patch's elements in `patchOrder`, the server-only
    /// ones in `serverOrder`, interleaved where the original order places them.
    private static func normalizedOrder(_ patchItems: [JSONValue], _ serverOnly: [JSONValue], patchOrder: [JSONValue],
                                        serverOrder: [JSONValue], mergeKey: String) throws(PatchError) -> [JSONValue] {
        let right = try sortedByOrder(patchItems, patchOrder, mergeKey)
        let left = try sortedByOrder(serverOnly, serverOrder, mergeKey)
        let server = OrderIndex(serverOrder, mergeKey: mergeKey)
        var result: [JSONValue] = []
        result.reserveCapacity(left.count + right.count)
        var i = 0
        var j = 0
        while i < left.count || j < right.count {
            if i >= left.count {
                result.append(right[j]); j += 1
            } else if j >= right.count {
                result.append(left[i]); i += 1
            } else {
                let li = server.position(of: left[i])
                let ri = server.position(of: right[j])
                if let li, let ri, li < ri {
                    result.append(left[i]); i += 1
                } else {
                    result.append(right[j]); j += 1
                }
            }
        }
        return result
    }

    /// `list` stably sorted by where its elements stand in `order`; elements marked for deletion last.
    private static func sortedByOrder(_ list: [JSONValue], _ order: [JSONValue], _ mergeKey: String) throws(PatchError) -> [JSONValue] {
        var kept = list
        var deleted: [JSONValue] = []
        if !mergeKey.isEmpty {
            for element in list + order {
                guard case .object(let object) = element else { throw .badArgument(expected: "map", element) }
                if object[mergeKey] == nil { throw .noMergeKey(element, mergeKey) }
            }
            kept = list.filter { !isDirective($0, "delete") }
            deleted = list.filter { isDirective($0, "delete") }
        }
        let index = OrderIndex(order, mergeKey: mergeKey)
        let ranked = kept.enumerated().map { (offset, element) in
            (index.position(of: element) ?? Int.max, offset, element)
        }
        return ranked.sorted { ($0.0, $0.1) < ($1.0, $1.1) }.map(\.2) + deleted
    }

    /// Where elements first stand in a list: by merge key for objects (an element without the key
    /// matches the first without it, as Go's lookup of a missing key does), by value otherwise.
    private struct OrderIndex {
        let mergeKey: String
        private(set) var positions: [JSONValue: Int] = [:]
        private var missingKey: Int?

        init(_ list: [JSONValue], mergeKey: String) {
            self.mergeKey = mergeKey
            for (i, element) in list.enumerated() {
                if mergeKey.isEmpty {
                    if positions[element] == nil { positions[element] = i }
                } else if let value = element[mergeKey] {
                    if positions[value] == nil { positions[value] = i }
                } else if missingKey == nil {
                    missingKey = i
                }
            }
        }

        func position(of element: JSONValue) -> Int? {
            if mergeKey.isEmpty { return positions[element] }
            guard let value = element[mergeKey] else { return missingKey }
            return positions[value]
        }
    }

    private static func sameElement(_ a: JSONValue, _ b: JSONValue, _ mergeKey: String) throws(PatchError) -> Bool {
        if mergeKey.isEmpty { return a == b }
        guard case .object(let left) = a else { throw .badArgument(expected: "map", a) }
        guard case .object(let right) = b else { throw .badArgument(expected: "map", b) }
        guard let l = left[mergeKey] else { throw .noMergeKey(a, mergeKey) }
        guard let r = right[mergeKey] else { throw .noMergeKey(b, mergeKey) }
        return l == r
    }

    // MARK: Values

    private static func isDirectiveKey(_ key: String) -> Bool {
        key == retainKeys || key.hasPrefix(setElementOrderPrefix) || key.hasPrefix(deleteFromPrimitiveListPrefix)
    }

    private static func isDirective(_ value: JSONValue, _ name: String) -> Bool {
        value[directive] == .string(name)
    }

    /// Both values decode to the same Go type (map, slice, string, number, bool).
    private static func sameKind(_ a: JSONValue, _ b: JSONValue) -> Bool {
        switch (a, b) {
        case (.object, .object), (.array, .array), (.string, .string), (.number, .number), (.bool, .bool), (.null, .null):
            return true
        default:
            return false
        }
    }

    /// A patch value as it lands in the object: `null` members dropped, objects holding `$patch`
    /// dropped, the other directives (`$retainKeys`, `$setElementOrder/…`,
    /// `$deleteFromPrimitiveList/…`) removed. Other members, `$`-named or not, stay for field
    /// validation to judge.
    private static func cleaned(_ value: JSONValue) -> JSONValue? {
        switch value {
        case .object(let object):
            if object[directive] != nil { return nil }
            return .object(cleaned(object))
        case .array(let list):
            return .array(cleanedList(list))
        default:
            return value
        }
    }

    private static func cleaned(_ object: JSONObject) -> JSONObject {
        var result = JSONObject()
        for (key, value) in object.members where !isDirectiveKey(key) && value != .null {
            if let kept = cleaned(value) { result[key] = kept }
        }
        return result
    }

    private static func cleanedList(_ list: [JSONValue]) -> [JSONValue] {
        list.compactMap { cleaned($0) }
    }
}
