import Crypto
import Foundation
import NIOSSL
import SwiftASN1
import X509

/// The certificate and key a secure port presents, with ALPN offering `h2` then `http/1.1`.
public enum TLSIdentity: Sendable {
    /// PEM files (`--tls-cert-file`, `--tls-private-key-file`).
    case files(certificate: String, privateKey: String)
    /// A certificate for localhost, 127.0.0.1 and ::1 made at start-up (`--tls-self-signed`), for
    /// development and tests.
    case selfSigned

    /// The server TLS context; throws a message naming the file or the problem.
    func makeContext() throws -> NIOSSLContext {
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
        case .selfSigned:
            let (certificatePEM, keyPEM) = try Self.selfSignedPEM()
            chain = [try NIOSSLCertificate(bytes: Array(certificatePEM.utf8), format: .pem)]
            key = try NIOSSLPrivateKey(bytes: Array(keyPEM.utf8), format: .pem)
        }
        var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        configuration.applicationProtocols = ["h2", "http/1.1"]
        return try NIOSSLContext(configuration: configuration)
    }

    /// A fresh P-256 key and a one-year certificate for localhost, signed by itself.
    static func selfSignedPEM() throws -> (certificate: String, privateKey: String) {
        let key = P256.Signing.PrivateKey()
        let certificateKey = Certificate.PrivateKey(key)
        let name = try DistinguishedName { CommonName("watchcache") }
        let now = Date()
        let certificate = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: certificateKey.publicKey,
            notValidBefore: now.addingTimeInterval(-60),
            notValidAfter: now.addingTimeInterval(365 * 24 * 3600),
            issuer: name,
            subject: name,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                try ExtendedKeyUsage([.serverAuth])
                SubjectAlternativeNames([
                    .dnsName("localhost"),
                    .ipAddress(ASN1OctetString(contentBytes: [127, 0, 0, 1])),
                    .ipAddress(ASN1OctetString(contentBytes: ArraySlice([UInt8](repeating: 0, count: 15) + [1]))),
                ])
            },
            issuerPrivateKey: certificateKey)
        return (try certificate.serializeAsPEM().pemString, key.pemRepresentation)
    }
}

/// Why the TLS identity could not be loaded.
public struct TLSIdentityError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
