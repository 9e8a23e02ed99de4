import WatchCache

/// JSON merge patch (RFC 7386): members of the patch replace the target's, `null` removes, objects
/// merge recursively, anything else (arrays included) replaces. (Strategic merge patch, which
/// merges lists by their keys, is `StrategicMergePatch` in WatchCacheSchema.)
enum MergePatch {
    static func apply(_ patch: JSONValue, to target: JSONValue) -> JSONValue {
        guard case .object(let patchObject) = patch else { return patch }
        var result = target.objectValue ?? JSONObject()
        for (key, value) in patchObject.members {
            if value == .null {
                result[key] = nil
            } else {
                result[key] = apply(value, to: result[key] ?? .null)
            }
        }
        return .object(result)
    }
}
