import ConcertoCore
import Crypto
import Foundation

/// The secret that makes the audit trail trustworthy against the database's owner: it
/// keys the chain (HMAC-SHA256 of every event) and signs the checkpoints (Ed25519). It is
/// kept in a file outside the database; both keys are derived from its 32 random bytes,
/// so there is one secret to protect and to share between server instances.
public struct AuditKey: Sendable {
    /// The HMAC with the key already absorbed (its padded inner and outer blocks): each
    /// link starts from a copy, which halves the cost of `audit verify`.
    let chainMAC: HMAC<SHA256>
    let signingKey: Curve25519.Signing.PrivateKey
    /// The root of the research extracts' pseudonyms (`pseudonymKey(community:)`), derived
    /// apart from the chain's and the checkpoints' keys: knowing one tells nothing of the others.
    let researchKey: SymmetricKey
    /// A fingerprint of the key (of its public half), safe to store and print.
    public let id: String

    public var publicKey: Curve25519.Signing.PublicKey { signingKey.publicKey }

    public init(secret: some ContiguousBytes) throws {
        let material = SymmetricKey(data: secret)
        guard material.bitCount == 256 else { throw AuditKeyError.malformed("the secret must be 32 bytes") }
        let chainKey = HKDF<SHA256>.deriveKey(inputKeyMaterial: material, info: Data("concerto audit chain v2".utf8), outputByteCount: 32)
        chainMAC = HMAC<SHA256>(key: chainKey)
        let seed = HKDF<SHA256>.deriveKey(inputKeyMaterial: material, info: Data("concerto audit checkpoint ed25519".utf8), outputByteCount: 32)
        signingKey = try seed.withUnsafeBytes { try Curve25519.Signing.PrivateKey(rawRepresentation: $0) }
        researchKey = HKDF<SHA256>.deriveKey(inputKeyMaterial: material, info: Data("concerto research pseudonyms v1".utf8), outputByteCount: 32)
        id = Self.fingerprint(of: signingKey.publicKey)
    }

    /// The key of one community's research pseudonyms: the same for every export of that
    /// community (a patient keeps their pseudonym across periods), another for each
    /// community (two communities' extracts cannot be joined on it).
    public func pseudonymKey(community: UUID) -> SymmetricKey {
        HKDF<SHA256>.deriveKey(inputKeyMaterial: researchKey, info: Data("community \(community.storageKey)".utf8), outputByteCount: 32)
    }

    /// Where the key file is kept unless configured: beside the SQLite file, or in `data/`
    /// of the working directory for PostgreSQL (where every instance needs the same file).
    public static func defaultPath(for database: DatabaseURL) -> String {
        defaultFolder(for: database).appendingPathComponent("audit.key").path
    }

    /// Where checkpoints are written unless configured: `audit-checkpoints/` beside the key.
    public static func defaultCheckpointDirectory(for database: DatabaseURL) -> String {
        defaultFolder(for: database).appendingPathComponent("audit-checkpoints").path
    }

    private static func defaultFolder(for database: DatabaseURL) -> URL {
        if case .sqliteFile(let path) = database { return URL(fileURLWithPath: path).deletingLastPathComponent() }
        return URL(fileURLWithPath: "data")
    }

    /// A fresh key (tests, benchmarks).
    public static func random() -> AuditKey {
        // 32 bytes is what the initialiser asks for: it cannot throw here.
        try! AuditKey(secret: SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) })
    }

    static func fingerprint(of key: Curve25519.Signing.PublicKey) -> String {
        String(SHA256.hash(data: key.rawRepresentation).withUnsafeBytes { $0.hexString }.prefix(16))
    }

    /// Reads the key file; when it does not exist and `create` is set, writes a new one
    /// readable by its owner only (created exclusively, so two instances starting together
    /// end up with the same key).
    public static func load(path: String, create: Bool) throws -> (key: AuditKey, created: Bool) {
        if create, !FileManager.default.fileExists(atPath: path) {
            let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let secret = SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }
            let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
            if descriptor >= 0 {
                let text = Data((secret.hexString + "\n").utf8)
                let written = text.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
                let synced = fsync(descriptor)
                close(descriptor)
                guard written == text.count, synced == 0 else {
                    unlink(path)
                    throw AuditKeyError.unwritable(path)
                }
                return (try AuditKey(secret: secret), true)
            }
            guard errno == EEXIST else { throw AuditKeyError.unwritable(path) }
        }
        var status = stat()
        guard stat(path, &status) == 0 else { throw AuditKeyError.missing(path) }
        // Like ssh with its private keys: a key others can read is no longer a secret.
        guard status.st_mode & 0o077 == 0 else { throw AuditKeyError.tooOpen(path) }
        guard let data = FileManager.default.contents(atPath: path),
              let text = String(data: data, encoding: .utf8)?.trimmingCharacters(in: .whitespacesAndNewlines),
              let secret = Data(hex: text), secret.count == 32
        else { throw AuditKeyError.malformed("\(path) must hold 64 hexadecimal digits") }
        return (try AuditKey(secret: secret), false)
    }
}

public enum AuditKeyError: Error, Equatable, CustomStringConvertible {
    case missing(String)
    case tooOpen(String)
    case unwritable(String)
    case malformed(String)

    public var description: String {
        switch self {
        case .missing(let path): "The audit key file \(path) does not exist (set CONCERTO_AUDIT_KEY_FILE to the key the server uses)."
        case .tooOpen(let path): "The audit key file \(path) may be read by others: make it readable by its owner only (chmod 600)."
        case .unwritable(let path): "The audit key file \(path) could not be written."
        case .malformed(let reason): "Unreadable audit key: \(reason)."
        }
    }
}

extension Sequence where Element == UInt8 {
    var hexString: String {
        let digits = Array("0123456789abcdef".utf8)
        var hex: [UInt8] = []
        for byte in self {
            hex.append(digits[Int(byte >> 4)])
            hex.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: hex, as: UTF8.self)
    }
}

extension SymmetricKey {
    var hexString: String { withUnsafeBytes { $0.hexString } }
}

extension Data {
    init?(hex: String) {
        let bytes = Array(hex.utf8)
        guard bytes.count.isMultiple(of: 2) else { return nil }
        var result = Data(capacity: bytes.count / 2)
        func value(_ digit: UInt8) -> UInt8? {
            switch digit {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
            default: nil
            }
        }
        var index = 0
        while index < bytes.count {
            guard let high = value(bytes[index]), let low = value(bytes[index + 1]) else { return nil }
            result.append(high << 4 | low)
            index += 2
        }
        self = result
    }
}
