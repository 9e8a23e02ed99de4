extension ResourceCache {
    enum ListOutcome {
        case done(ListResult)
        case wait(ResourceVersion)
    }

    /// Lists objects with Kubernetes' semantics for `options`.
    ///
    /// A `resourceVersion` the cache has not reached waits up to ``CacheConfiguration/versionWaitTimeout``
    /// for it, then fails with 504. Pages of a paginated list all reflect the first page's version;
    /// once that version has left the history window the token gets 410 Expired.
    public func list(_ options: ListOptions) async throws(Status) -> ListResult {
        let result: Result<ListResult, Status> = await withCheckedContinuation { continuation in
            list(options) { continuation.resume(returning: $0) }
        }
        return try result.get()
    }

    /// Callback form of ``list(_:)``: `completion` is called exactly once, either before this
    /// returns or later from the thread that feeds or ticks the cache.
    public func list(_ options: ListOptions, completion: @escaping @Sendable (Result<ListResult, Status>) -> Void) {
        let filter: WatchFilter
        do throws(Status) {
            try options.validate()
            filter = try WatchFilter(resource: resource, namespace: options.namespace,
                                     labelSelector: options.labelSelector, fieldSelector: options.fieldSelector)
        } catch {
            completion(.failure(error))
            return
        }
        let now = clock.now()
        let outcome: Result<ListResult, Status>? = state.withLock { cs in
            do throws(Status) {
                switch try listLocked(options, filter: filter, in: &cs) {
                case .done(let result): return .success(result)
                case .wait(let target):
                    cs.waiters.append(VersionWaiter(target: target, deadline: now + configuration.versionWaitTimeout,
                                                    kind: .list(options, filter, completion)))
                    return nil
                }
            } catch {
                return .failure(error)
            }
        }
        if let outcome { completion(outcome) }
    }

    func listLocked(_ options: ListOptions, filter: WatchFilter, in cs: inout CacheState) throws(Status) -> ListOutcome {
        var version = cs.version
        var afterKey: String?
        if let token = options.continueToken, !token.isEmpty {
            let decoded = try ContinueToken(decoding: token)
            guard decoded.resourceVersion <= cs.version else {
                throw Status.badRequest("continue key is not valid: resource version \(decoded.resourceVersion) is newer than the cache")
            }
            guard decoded.resourceVersion >= cs.log.resumableFrom else { throw Status.continueExpired }
            version = decoded.resourceVersion
            afterKey = decoded.lastKey
        } else if let text = options.resourceVersion, !text.isEmpty, text != "0" {
            let requested = try parseResourceVersion(text)
            if requested > cs.version { return .wait(requested) }
            let exact = options.resourceVersionMatch == ResourceVersionMatch.exact.rawValue
                || (options.resourceVersionMatch == nil && options.limit != nil)
            if exact {
                guard requested >= cs.log.resumableFrom else {
                    throw Status(code: 410, reason: .expired, message: "The resourceVersion for the provided list is too old.")
                }
                version = requested
            }
        }

        let past = version < cs.version ? stateDifference(at: version, in: cs) : [:]
        let limit = options.limit.flatMap { $0 > 0 ? $0 : nil } ?? Int.max
        let selective = !filter.labels.isEverything || filter.hasFieldSelector
        let narrowed = filter.indexValue != nil || filter.key != nil
        let page: (items: [KubeObject], remaining: Int)
        if past.isEmpty && selective && !narrowed {
            page = Self.scanPage(cs.store.objects.values, filter: filter, after: afterKey, limit: limit)
        } else {
            var keys = candidateKeys(for: filter, in: &cs)
            if !past.isEmpty { keys = Self.mergeSorted(keys, past.keys.sorted()) }
            page = Self.keyedPage(keys, filter: filter, after: afterKey, limit: limit, exact: past.isEmpty && !selective) { key in
                if let old = past[key] { return old }
                return cs.store[key]
            }
        }
        var result = ListResult(resourceVersion: version, items: page.items)
        if page.remaining > 0, let last = page.items.last {
            result.continueToken = ContinueToken(resourceVersion: version, lastKey: last.key).encoded
            if !selective { result.remainingItemCount = page.remaining }
        }
        return .done(result)
    }

    /// A page from the whole store, for a selective filter: scanning the objects directly (no key
    /// hashing) and sorting only the matches costs far less than walking the sorted keys.
    private static func scanPage(_ objects: Dictionary<String, KubeObject>.Values, filter: WatchFilter, after: String?,
                                 limit: Int) -> (items: [KubeObject], remaining: Int) {
        var matches: [KubeObject] = []
        for object in objects where filter.matches(object) {
            if let after, object.key <= after { continue }
            matches.append(object)
        }
        matches.sort { $0.key < $1.key }
        guard matches.count > limit else { return (matches, 0) }
        return (Array(matches.prefix(limit)), matches.count - limit)
    }

    /// A page walking sorted `keys` from after `after`. With `exact`, every key is a current,
    /// matching object, so the remaining count is arithmetic; otherwise one more match is enough
    /// to know another page follows.
    private static func keyedPage(_ keys: [String], filter: WatchFilter, after: String?, limit: Int, exact: Bool,
                                  object: (String) -> KubeObject?) -> (items: [KubeObject], remaining: Int) {
        var i = 0
        if let after {
            var high = keys.count
            while i < high {
                let mid = (i + high) / 2
                if keys[mid] <= after { i = mid + 1 } else { high = mid }
            }
        }
        var items: [KubeObject] = []
        while i < keys.count {
            let key = keys[i]
            i += 1
            guard let o = object(key), filter.matches(o) else { continue }
            if items.count < limit {
                items.append(o)
                continue
            }
            if exact { return (items, keys.count - i + 1) }
            var remaining = 1
            while i < keys.count {
                if let o = object(keys[i]), filter.matches(o) { remaining += 1 }
                i += 1
            }
            return (items, remaining)
        }
        return (items, 0)
    }

    /// For every key changed after `version`, its state at `version` (`nil`: it did not exist),
    /// found by walking the log back from the newest event.
    private func stateDifference(at version: ResourceVersion, in cs: CacheState) -> [String: KubeObject?] {
        var past: [String: KubeObject?] = [:]
        let first = cs.log.firstPosition(after: version)
        var p = cs.log.end - 1
        while p >= first {
            let event = cs.log[p]
            past[event.object.key] = .some(event.previous)
            p -= 1
        }
        return past
    }

    static func mergeSorted(_ a: [String], _ b: [String]) -> [String] {
        var out: [String] = []
        out.reserveCapacity(a.count + b.count)
        var i = 0, j = 0
        while i < a.count || j < b.count {
            let next: String
            if j >= b.count || (i < a.count && a[i] < b[j]) { next = a[i]; i += 1 } else { next = b[j]; j += 1 }
            if out.last != next { out.append(next) }
        }
        return out
    }
}
