import CZlib
import Foundation
import Testing
import WatchCache
@testable import WatchCacheServer

/// Responses as kube-apiserver sends them: gzip over 128 KiB for clients that accept it (both
/// protocols, compressed as the connection takes it), and YAML for `application/yaml`.
@Suite(.serialized) struct ResponseEncodingTests {
    // MARK: - gzip

    /// gunzips `data` with zlib (the format's reference implementation, not our encoder).
    static func gunzip(_ data: [UInt8]) throws -> [UInt8] {
        var stream = z_stream()
        try #require(watchcache_inflate_init_gzip(&stream) == Z_OK)
        defer { inflateEnd(&stream) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        var input = data
        var code: Int32 = Z_OK
        input.withUnsafeMutableBufferPointer { inBuffer in
            stream.next_in = inBuffer.baseAddress
            stream.avail_in = UInt32(inBuffer.count)
            repeat {
                let produced = chunk.withUnsafeMutableBufferPointer { outBuffer -> Int in
                    stream.next_out = outBuffer.baseAddress
                    stream.avail_out = UInt32(outBuffer.count)
                    code = inflate(&stream, Z_NO_FLUSH)
                    return outBuffer.count - Int(stream.avail_out)
                }
                out.append(contentsOf: chunk[..<produced])
            } while code == Z_OK
        }
        try #require(code == Z_STREAM_END, "inflate ended with \(code)")
        #expect(stream.avail_in == 0, "bytes after the gzip trailer")
        return out
    }

    /// Whatever sizes the transport reads in, the bytes are one gzip member that inflates to the body.
    @Test(arguments: [1, 7, 4096, 16_384, 1 << 20])
    func theCompressedBodyInflatesToTheBody(readSize: Int) throws {
        var body: [UInt8] = []
        var seed: UInt64 = 42
        for i in 0..<300_000 {
            // Compressible JSON-like text with some noise, so deflate has both runs and literals.
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            body.append(i % 7 == 0 ? UInt8(truncatingIfNeeded: seed >> 33) : Array("{\"metadata\":{\"name\":\"pod\"}}".utf8)[i % 27])
        }
        let gzip = try #require(GzipBody(body))
        var compressed: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: readSize)
        var reads = 0
        while !gzip.finished {
            let n = buffer.withUnsafeMutableBufferPointer { gzip.read(into: $0.baseAddress!, capacity: $0.count) }
            // A read short of the capacity happens only at the end.
            if !gzip.finished { #expect(n == readSize) }
            compressed.append(contentsOf: buffer[..<n])
            reads += 1
            try #require(reads < 10_000_000)
        }
        #expect(gzip.remainingInput == 0)
        #expect(compressed.count < body.count / 2)
        #expect(try Self.gunzip(compressed) == body)
        #expect(GzipBody.compress(body) == compressed)
    }

    @Test func anEmptyBodyIsAnEmptyGzipMember() throws {
        let compressed = try #require(GzipBody.compress([]))
        #expect(compressed.prefix(2) == [0x1F, 0x8B])
        #expect(try Self.gunzip(compressed) == [])
    }

    @Test func acceptEncodingIsReadAsHTTPSays() {
        #expect(ResponseCompression.acceptsGzip("gzip"))
        #expect(ResponseCompression.acceptsGzip("deflate, GZIP;q=0.5"))
        #expect(ResponseCompression.acceptsGzip("*"))
        #expect(ResponseCompression.acceptsGzip("br, gzip"))
        #expect(!ResponseCompression.acceptsGzip(nil))
        #expect(!ResponseCompression.acceptsGzip("identity"))
        #expect(!ResponseCompression.acceptsGzip("gzip;q=0"))
        #expect(!ResponseCompression.acceptsGzip("x-gzip-not"))
        #expect(!ResponseCompression.gzips(acceptEncoding: "gzip", bodyBytes: 128 * 1024))
        #expect(ResponseCompression.gzips(acceptEncoding: "gzip", bodyBytes: 128 * 1024 + 1))
    }

    static let http1: [String] = ["--http1.1"]
    static let h2c: [String] = ["--http2-prior-knowledge"]

    /// curl's response headers (lower-cased names) and body for `arguments`.
    static func fetch(_ arguments: [String]) async throws -> (headers: [String: String], body: [UInt8]) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("encoding-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        _ = try await EndToEndTests.curl(["-D", directory + "/headers", "-o", directory + "/body"] + arguments)
        var headers: [String: String] = [:]
        for line in try String(contentsOfFile: directory + "/headers", encoding: .utf8).split(whereSeparator: \.isNewline) {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        let body = try [UInt8](Data(contentsOf: URL(fileURLWithPath: directory + "/body")))
        return (headers, body)
    }

    /// A list over 128 KiB goes gzipped to a client that asks (curl `--compressed` sends
    /// `Accept-Encoding` and inflates) and is the same list; a small one, a client that does not
    /// ask, and a watch go as they are.
    @Test(arguments: [http1, h2c])
    func largeResponsesAreGzippedForClientsThatAsk(protocolFlags: [String]) async throws {
        let (server, port) = try await EndToEndTests.startServer()
        // Half runs, half noise: compressed, the list still spans several flow-control windows.
        for i in 0..<300 {
            let padding = String(repeating: "x", count: 500) + String((0..<500).map { _ in "0123456789abcdef".randomElement()! })
            _ = try await server.registry.create(try JSONObject(parsing: #"{"metadata":{"name":"p\#(i)","annotations":{"pad":"\#(padding)"}}}"#),
                                           in: .pods, namespace: "big")
        }
        _ = try await server.registry.create(try JSONObject(parsing: #"{"metadata":{"name":"s"}}"#), in: .pods, namespace: "small")
        let base = "http://127.0.0.1:\(port)/api/v1/namespaces"

        let plain = try await Self.fetch(protocolFlags + ["\(base)/big/pods"])
        #expect(plain.headers["content-encoding"] == nil)
        #expect(plain.body.count > 300_000)
        let gzipped = try await Self.fetch(protocolFlags + ["--compressed", "\(base)/big/pods"])
        #expect(gzipped.headers["content-encoding"] == "gzip")
        #expect(gzipped.headers["vary"] == "Accept-Encoding")
        #expect(gzipped.headers["content-length"] == nil)
        #expect(gzipped.body == plain.body)
        // The bytes on the wire, inflated by zlib, are the same list too.
        let raw = try await Self.fetch(protocolFlags + ["-H", "Accept-Encoding: gzip", "\(base)/big/pods"])
        #expect(raw.body.count > 64 * 1024 && raw.body.count < plain.body.count / 2)
        #expect(try Self.gunzip(raw.body) == plain.body)

        let small = try await Self.fetch(protocolFlags + ["--compressed", "\(base)/small/pods"])
        #expect(small.headers["content-encoding"] == nil)
        #expect(small.headers["content-length"] == String(small.body.count))
        // A watch is a stream of small events, never compressed (as kube-apiserver).
        let watch = try await Self.fetch(protocolFlags + ["--compressed", "\(base)/big/pods?watch=true&resourceVersion=0&timeoutSeconds=1"])
        #expect(watch.headers["content-encoding"] == nil)
        #expect(String(decoding: watch.body, as: UTF8.self).split(separator: "\n").count == 300)
        // The connection carries on after a gzipped response.
        if protocolFlags == Self.http1 {
            let twice = try await EndToEndTests.curl(protocolFlags + ["--compressed", "-w", "%{http_code} %{num_connects}\n",
                                                                      "-o", "/dev/null", "\(base)/big/pods", "-o", "/dev/null", "\(base)/big/pods"])
            #expect(twice.split(separator: "\n") == ["200 1", "200 0"], "\(twice.prefix(200))")
        } else {
            // Two gzipped responses at once on one connection (curl 7.88 cannot reuse an h2c one).
            let frames = try await EndToEndTests.run("nghttp", ["-nv", "-H", "accept-encoding: gzip", "\(base)/big/pods", "\(base)/big/pods?limit=250"])
            #expect(frames.components(separatedBy: ":status: 200").count == 3, "\(frames.suffix(500))")
            #expect(frames.components(separatedBy: "content-encoding: gzip").count == 3)
            #expect(!frames.contains("RST_STREAM"))
        }
        try await server.shutdown()
    }

    // MARK: - YAML

    @Test func yamlIsBlockStyleWithSortedKeys() throws {
        let json = try JSONParser.parse(#"""
            {"kind":"Pod","apiVersion":"v1","metadata":{"name":"web","labels":{"b":"2","a":"yes"}},
             "spec":{"containers":[{"name":"c","args":["--port","8080"],"ports":[{"containerPort":80}]}],"empty":{},"none":[],"n":null}}
            """#)
        let yaml = String(decoding: YAMLEncoding.encode(json), as: UTF8.self)
        #expect(yaml == """
            apiVersion: v1
            kind: Pod
            metadata:
              labels:
                a: "yes"
                b: "2"
              name: web
            spec:
              containers:
              - args:
                - --port
                - "8080"
                name: c
                ports:
                - containerPort: 80
              empty: {}
              "n": null
              none: []

            """)
    }

    @Test(arguments: ["", "yes", "No", "ON", "y", "n", "~", "null", "true", "0123", "1.5", "-1", ".5", "+1", ".inf", "0x1F",
                      "2024-01-01", "12:30", "a: b", "a #b", "#x", "- x", "-", ":", "?", "[a]", "{a}", "*x", "&x", "!x", "|x",
                      ">x", "'x", "\"x", "%x", "@x", "`x", " lead", "trail ", "ends:", "multi\nline", "tab\there", "ünï", "\u{2028}",
                      "<<", "="])
    func stringsThatCouldReadAsSomethingElseAreQuoted(text: String) {
        #expect(!YAMLEncoding.isPlainSafe(text), "\(text)")
    }

    @Test(arguments: ["web", "kube-system", "app.kubernetes.io/name", "--port", "a:b", "a#b", "Always", "node-1", "x-y_z.w",
                      "sha256:abc", "http://host/path"])
    func ordinaryStringsArePlain(text: String) {
        #expect(YAMLEncoding.isPlainSafe(text), "\(text)")
    }

    /// Over the wire with real readers: PyYAML (YAML 1.1, what most tools use) reads every YAML
    /// response back to exactly the JSON one, tricky strings included; a watch in YAML is 406 and
    /// errors come as a YAML Status.
    @Test(arguments: [http1, h2c])
    func yamlForClientsThatAskForIt(protocolFlags: [String]) async throws {
        let root = String(#filePath.split(separator: "/", omittingEmptySubsequences: false).dropLast(3).joined(separator: "/"))
        let python = root + "/.build-python/bin/python"
        try #require(FileManager.default.isExecutableFile(atPath: python), "run scripts/install-python-client.sh first")
        let (server, port) = try await EndToEndTests.startServer()
        let tricky: [String: String] = [
            "yes": "yes", "octal": "0123", "float": "1.5", "null": "null", "colon": "a: b", "hash": "a #b", "dash": "- x",
            "empty": "", "lead": " lead", "multi": "line 1\nline 2\n", "unicode": "ünïcode ☃", "tab": "a\tb", "quote": "say \"hi\"",
            "json": #"{"kind":"Pod","spec":{"x":[1,2]}}"#, "date": "2024-01-01", "time": "12:30", "tilde": "~", "backslash": #"a\b"#,
        ]
        var annotations = JSONObject()
        for (k, v) in tricky { annotations[k] = .string(v) }
        var pod = try JSONObject(parsing: #"{"metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"nginx","args":["--port","8080"]}]}}"#)
        pod["metadata"] = .object({ var m = pod["metadata"]!.objectValue!; m["annotations"] = .object(annotations); return m }())
        _ = try await server.registry.create(pod, in: .pods, namespace: "y")
        let base = "http://127.0.0.1:\(port)/api/v1/namespaces/y/pods"
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("yaml-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }

        for (name, url) in [("object", "\(base)/p"), ("list", base), ("missing", "\(base)/nope")] {
            let yaml = try await Self.fetch(protocolFlags + ["-H", "Accept: application/yaml", url])
            #expect(yaml.headers["content-type"] == "application/yaml", "\(name)")
            let json = try await Self.fetch(protocolFlags + [url])
            try Data(yaml.body).write(to: URL(fileURLWithPath: "\(directory)/\(name).yaml"))
            try Data(json.body).write(to: URL(fileURLWithPath: "\(directory)/\(name).json"))
            let same = try await EndToEndTests.run(python, ["-c", """
                import json, sys, yaml
                a = yaml.safe_load(open(sys.argv[1]))
                b = json.load(open(sys.argv[2]))
                print("same" if a == b else "differ: %r != %r" % (a, b))
                """, "\(directory)/\(name).yaml", "\(directory)/\(name).json"], absolute: true)
            #expect(same.trimmingCharacters(in: .whitespacesAndNewlines) == "same", "\(name): \(same)")
        }
        let missing = try await Self.fetch(protocolFlags + ["-H", "Accept: application/yaml", "\(base)/nope"])
        #expect(String(decoding: missing.body, as: UTF8.self).contains("reason: NotFound"))
        let watch = try await Self.fetch(protocolFlags + ["-H", "Accept: application/yaml", "\(base)?watch=true&timeoutSeconds=1"])
        #expect(String(decoding: watch.body, as: UTF8.self).contains("code: 406"))
        // JSON first in the client's list stays JSON.
        let preferJSON = try await Self.fetch(protocolFlags + ["-H", "Accept: application/json, application/yaml", "\(base)/p"])
        #expect(preferJSON.headers["content-type"] == "application/json")
        try await server.shutdown()
    }
}
