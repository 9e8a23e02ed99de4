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
        var keys = candidateKeys(for: filter, in: &cs)
        if !past.isEmpty { keys = Self.mergeSorted(keys, past.keys.sorted()) }
        var start = 0
        if let afterKey {
            var low = 0, high = keys.count
            while low < high {
                let mid = (low + high) / 2
                if keys[mid] <= afterKey { low = mid + 1 } else { high = mid }
            }
            start = low
        }

        let limit = options.limit.flatMap { $0 > 0 ? $0 : nil } ?? Int.max
        let selectors = !filter.labels.isEverything || !filter.fields.isEverything
        var items: [KubeObject] = []
        var remaining = 0
        var i = start
        while i < keys.count {
            let key = keys[i]
            i += 1
            let object: KubeObject?
            if let old = past[key] { object = old } else { object = cs.store[key] }
            guard let object, filter.matches(object) else { continue }
            if items.count < limit {
                items.append(object)
            } else {
                remaining += 1
                if selectors { break }  // one more is enough to know a page follows
            }
        }
        var result = ListResult(resourceVersion: version, items: items)
        if remaining > 0, let last = items.last {
            result.continueToken = ContinueToken(resourceVersion: version, lastKey: last.key).encoded
            if !selectors { result.remainingItemCount = remaining }
        }
        return .done(result)
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
