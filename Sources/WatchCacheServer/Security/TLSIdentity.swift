import Crypto
import Foundation
import NIOSSL
import SwiftASN1
import X509

/// The certificate and key a secure port presents, with ALPN offering `h2` then `http/1.1`.
public enum TLSIdentity: Sendable {
    /// PEM files (`--tls-cert-file`, `--tls-private-key-file`).
    case files(certificate: String, privateKey: String)
    /// PEM text in memory: a certificate chain (leaf first) and its key.
    case pem(certificate: String, privateKey: String)
    /// A certificate for localhost, 127.0.0.1 and ::1 made at start-up by a fresh authority
    /// (``SelfSignedAuthority``), for development and tests.
    case selfSigned

    /// The server TLS context; throws a message naming the file or the problem. With
    /// `clientAuthority`, clients may present a certificate it signed (verified in the handshake;
    /// those without one are still accepted, to authenticate otherwise).
    func makeContext(clientAuthority: ClientCertificateAuthority? = nil) throws -> NIOSSLContext {
        let chain: [NIOSSLCertificate]
        let key: NIOSSLPrivateKey
        switch self {
        case .files(let certificatePath, let keyPath):
            do {
                chain = try NIOSSLCertificate.fromPEMFile(certificatePath)
            } catch {
                throw TLSIdentityError("cannot read a PEM certificate from \(certificatePath): \(error)")
            }
            do {
                key = try NIOSSLPrivateKey(file: keyPath, format: .pem)
            } catch {
                throw TLSIdentityError("cannot read a PEM private key from \(keyPath): \(error)")
            }
        case .pem(let certificate, let privateKey):
            chain = try NIOSSLCertificate.fromPEMBytes(Array(certificate.utf8))
            key = try NIOSSLPrivateKey(bytes: Array(privateKey.utf8), format: .pem)
        case .selfSigned:
            let authority = try SelfSignedAuthority()
            chain = try NIOSSLCertificate.fromPEMBytes(Array(authority.certificatePEM.utf8))
            key = try NIOSSLPrivateKey(bytes: Array(authority.privateKeyPEM.utf8), format: .pem)
        }
        var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        configuration.applicationProtocols = ["h2", "http/1.1"]
        if let clientAuthority {
            configuration.certificateVerification = .optionalVerification
            configuration.trustRoots = .certificates(clientAuthority.certificates)
            configuration.sendCANameList = true
        }
        return try NIOSSLContext(configuration: configuration)
    }
}

/// What `--tls-self-signed` makes at start-up: a fresh certificate authority (P-256, one year)
/// and a server certificate it signs for localhost, 127.0.0.1 and ::1. Clients trust the
/// authority (``authorityPEM``, the `certificate-authority-data` of a kubeconfig), as k3s and kind
/// hand theirs out.
public struct SelfSignedAuthority: Sendable {
    /// The authority's certificate.
    public let authorityPEM: String
    /// The server's certificate (signed by the authority) and its key.
    public let certificatePEM: String
    public let privateKeyPEM: String

    /// Makes a new authority and server certificate; `hosts` adds DNS names or IP addresses.
    public init(hosts: [String] = []) throws {
        let now = Date()
        let authorityKey = P256.Signing.PrivateKey()
        let authorityName = try DistinguishedName { CommonName("watchcache-ca@\(Int(now.timeIntervalSince1970))") }
        let authority = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: Certificate.PrivateKey(authorityKey).publicKey,
            notValidBefore: now.addingTimeInterval(-60), notValidAfter: now.addingTimeInterval(365 * 24 * 3600),
            issuer: authorityName, subject: authorityName, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
            },
            issuerPrivateKey: Certificate.PrivateKey(authorityKey))
        let serverKey = P256.Signing.PrivateKey()
        var names: [GeneralName] = [
            .dnsName("localhost"),
            .ipAddress(ASN1OctetString(contentBytes: [127, 0, 0, 1])),
            .ipAddress(ASN1OctetString(contentBytes: ArraySlice([UInt8](repeating: 0, count: 15) + [1]))),
        ]
        for host in hosts where host != "localhost" {
            if let v4 = IPv4Address(host) { names.append(.ipAddress(ASN1OctetString(contentBytes: ArraySlice(v4.bytes)))) } else { names.append(.dnsName(host)) }
        }
        let server = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: Certificate.PrivateKey(serverKey).publicKey,
            notValidBefore: now.addingTimeInterval(-60), notValidAfter: now.addingTimeInterval(365 * 24 * 3600),
            issuer: authorityName, subject: try DistinguishedName { CommonName("watchcache") }, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([.serverAuth])
                SubjectAlternativeNames(names)
            },
            issuerPrivateKey: Certificate.PrivateKey(authorityKey))
        authorityPEM = try authority.serializeAsPEM().pemString
        certificatePEM = try server.serializeAsPEM().pemString
        privateKeyPEM = serverKey.pemRepresentation
    }
}

/// A dotted-quad IPv4 address, for a certificate's IP SAN.
private struct IPv4Address {
    let bytes: [UInt8]
    init?(_ text: String) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var bytes: [UInt8] = []
        for part in parts {
            guard let byte = UInt8(part) else { return nil }
            bytes.append(byte)
        }
        self.bytes = bytes
    }
}

/// Why the TLS identity could not be loaded.
public struct TLSIdentityError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
