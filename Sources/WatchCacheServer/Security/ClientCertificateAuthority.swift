import Foundation
import NIOCore
import NIOSSL
import X509

/// kube-apiserver's `--client-ca-file`: a client certificate that one of these authorities
/// signed — verified during the TLS handshake — authenticates its subject: the common name is
/// the user, each organization a group (kubeadm's and kind's admin kubeconfigs carry
/// `O=system:masters`). Clients without a certificate may still present a bearer token.
public struct ClientCertificateAuthority: Sendable {
    /// The authorities' certificates.
    let certificates: [NIOSSLCertificate]

    /// Reads the PEM bundle at `path`; throws one line naming the file and the problem.
    public init(pemFile path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            let reason = access(path, R_OK) == 0 ? "not a readable file" : String(cString: strerror(errno))
            throw TLSIdentityError("cannot read --client-ca-file \(path): \(reason)")
        }
        let pem = String(decoding: data, as: UTF8.self)
        try self.init(pem: pem, source: path)
    }

    /// The authorities in `pem` (one or more `CERTIFICATE` blocks).
    public init(pem: String, source: String = "the client CA") throws {
        let certificates: [NIOSSLCertificate]
        do {
            certificates = try NIOSSLCertificate.fromPEMBytes(Array(pem.utf8))
        } catch {
            throw TLSIdentityError("\(source): no PEM certificate could be read (\(error))")
        }
        guard !certificates.isEmpty else { throw TLSIdentityError("\(source): no PEM certificate in it") }
        self.certificates = certificates
    }

    /// The user a verified client certificate names: CN the name, O the groups. `nil` for a
    /// certificate without a common name, or one whose extended key usage excludes client
    /// authentication.
    static func user(of certificate: NIOSSLCertificate) -> AuthenticatedUser? {
        guard let der = try? certificate.toDERBytes(), let parsed = try? Certificate(derEncoded: der) else { return nil }
        if let usage = try? parsed.extensions.extendedKeyUsage, !usage.contains(.clientAuth), !usage.contains(.any) { return nil }
        var name: String?
        var groups: [String] = []
        for rdn in parsed.subject {
            for attribute in rdn {
                guard let value = String(attribute.value) else { continue }
                if attribute.type == .RDNAttributeType.commonName, name == nil { name = value }
                if attribute.type == .RDNAttributeType.organizationName { groups.append(value) }
            }
        }
        guard let name, !name.isEmpty else { return nil }
        return AuthenticatedUser(name: name, groups: groups)
    }

    /// The user of the certificate the peer of `channel` presented and the handshake verified
    /// (on the channel's event loop; `nil` without TLS or a certificate).
    static func user(on channel: any Channel) -> AuthenticatedUser? {
        guard let certificate = try? channel.pipeline.syncOperations.nioSSL_peerCertificate() else { return nil }
        return user(of: certificate)
    }
}

/// A connection's client-certificate user, read from its TLS handler at the first request (the
/// handshake is over by then) and kept for the others.
struct PeerCertificateUser {
    private var known: AuthenticatedUser??

    mutating func user(on channel: any Channel) -> AuthenticatedUser? {
        if let known { return known }
        let user = ClientCertificateAuthority.user(on: channel)
        known = .some(user)
        return user
    }
}
