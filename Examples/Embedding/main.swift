import WatchCache

// A registry holds one cache per resource and gives every write the next global resourceVersion.
let registry = try Registry()
let pods = try registry.register(.pods)
let ticker = Task { await registry.run() }  // bookmarks, timeouts, slow-watcher checks

let web = try registry.create(
    JSONObject(parsing: #"{"metadata":{"name":"web-0","namespace":"default"},"spec":{"nodeName":"node-1"}}"#),
    in: .pods)

// Watch node-1's pods from the version we just wrote, as a kubelet would.
let stream = try pods.stream(WatchOptions(
    resourceVersion: web.resourceVersion.description,
    allowWatchBookmarks: true,
    fieldSelector: "spec.nodeName=node-1"))

// Move the pod to node-2: for this watcher it leaves the selection, so it sees DELETED.
var moved = web.json
moved["spec"] = .object(JSONObject([("nodeName", .string("node-2"))]))
_ = try registry.update(moved, in: .pods)

// The loop throws a WatchInterruption if the server side ends the watch (slow consumer, shutdown,
// 410): it says why, and the version to watch again from.
for try await event in stream {
    print(event.type.rawValue, event.object?.name ?? "-", "at", event.resourceVersion)
    if event.type == .deleted { break }  // leaving the loop cancels the watch
}
ticker.cancel()
