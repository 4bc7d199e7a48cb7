import ConcertoCore
import Crypto
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// A signed statement of the audit chain's head at one moment, kept outside the database
/// (as Certificate Transparency's signed tree heads): whoever rewinds, truncates or
/// recomputes the chain afterwards cannot make it agree with the checkpoints again without
/// the audit key. A few lines of text, readable by a person:
///
///     concerto-audit-checkpoint-v1
///     sequence 1234
///     head 9f2c…
///     keyed-from 1
///     key 0123456789abcdef
///     time 2026-12-01T21:00:00.000Z
///     signature <base64 Ed25519 signature of the lines above>
public struct AuditCheckpoint: Sendable, Equatable {
    public var sequence: Int64
    public var headHash: String
    public var keyedFrom: Int64
    public var keyID: String
    public var recordedAt: String
    public var signature: Data

    static let label = "concerto-audit-checkpoint-v1"

    var signedText: String {
        "\(Self.label)\nsequence \(sequence)\nhead \(headHash)\nkeyed-from \(keyedFrom)\nkey \(keyID)\ntime \(recordedAt)\n"
    }

    public var fileText: String { signedText + "signature \(signature.base64EncodedString())\n" }

    static func signed(sequence: Int64, headHash: String, keyedFrom: Int64, recordedAt: String, key: AuditKey) -> AuditCheckpoint {
        var checkpoint = AuditCheckpoint(sequence: sequence, headHash: headHash, keyedFrom: keyedFrom, keyID: key.id,
                                         recordedAt: recordedAt, signature: Data())
        // Ed25519 signing fails only for a malformed key, which `AuditKey` cannot hold.
        checkpoint.signature = (try? key.signingKey.signature(for: Data(checkpoint.signedText.utf8))) ?? Data()
        return checkpoint
    }

    public func isSigned(by publicKey: Curve25519.Signing.PublicKey) -> Bool {
        publicKey.isValidSignature(signature, for: Data(signedText.utf8))
    }

    /// Reads a checkpoint file's text; nil when it is not exactly one.
    public init?(parsing text: String) {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard lines.count == 8, lines[0] == Self.label, lines[7].isEmpty else { return nil }
        func value(_ line: String, _ name: String) -> String? {
            line.hasPrefix(name + " ") ? String(line.dropFirst(name.count + 1)) : nil
        }
        guard let sequence = value(lines[1], "sequence").flatMap(Int64.init), sequence >= 0,
              let head = value(lines[2], "head"), head.utf8.count == 64,
              let keyedFrom = value(lines[3], "keyed-from").flatMap(Int64.init),
              let keyID = value(lines[4], "key"), let time = value(lines[5], "time"),
              let signature = value(lines[6], "signature").flatMap({ Data(base64Encoded: $0) })
        else { return nil }
        self.init(sequence: sequence, headHash: head, keyedFrom: keyedFrom, keyID: keyID, recordedAt: time, signature: signature)
        // The signed text must read back exactly as written (no stray spaces or fields).
        guard fileText == text else { return nil }
    }

    public init(sequence: Int64, headHash: String, keyedFrom: Int64, keyID: String, recordedAt: String, signature: Data) {
        self.sequence = sequence
        self.headHash = headHash
        self.keyedFrom = keyedFrom
        self.keyID = keyID
        self.recordedAt = recordedAt
        self.signature = signature
    }
}

/// The folder of checkpoints: each one a new file, created exclusively and never
/// rewritten by Concerto. Keep it where the database's owner cannot write (another host,
/// a WORM share, `chattr +a`): it is what the chain is verified against.
public final class AuditCheckpointDirectory: Sendable {
    public let path: String
    private let latest = Mutex<AuditCheckpoint?>(nil)

    public init(path: String) {
        self.path = path
    }

    /// The last checkpoint this process wrote.
    var lastWritten: AuditCheckpoint? { latest.withLock { $0 } }

    public struct File: Sendable {
        public var name: String
        /// Nil when the file is not a checkpoint (unreadable or malformed).
        public var checkpoint: AuditCheckpoint?
    }

    func write(_ checkpoint: AuditCheckpoint) throws {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let millis = Date().epochMilliseconds
        let name = String(format: "%020lld-%013lld.checkpoint", checkpoint.sequence, millis)
        let file = URL(fileURLWithPath: path).appendingPathComponent(name).path
        let descriptor = open(file, O_WRONLY | O_CREAT | O_EXCL, 0o400)
        guard descriptor >= 0 else {
            if errno == EEXIST { return } // another instance wrote this head in the same millisecond
            throw AuditCheckpointError.unwritable(file)
        }
        let bytes = Data(checkpoint.fileText.utf8)
        let written = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
        let synced = fsync(descriptor)
        close(descriptor)
        guard written == bytes.count, synced == 0 else { throw AuditCheckpointError.unwritable(file) }
        latest.withLock { $0 = checkpoint }
    }

    /// Every file of the folder that looks like a checkpoint, in name order; an empty list
    /// when the folder does not exist.
    public func readAll() throws -> [File] {
        guard FileManager.default.fileExists(atPath: path) else { return [] }
        return try FileManager.default.contentsOfDirectory(atPath: path)
            .filter { $0.hasSuffix(".checkpoint") }
            .sorted()
            .map { name in
                let data = FileManager.default.contents(atPath: URL(fileURLWithPath: path).appendingPathComponent(name).path)
                return File(name: name, checkpoint: data.flatMap { String(data: $0, encoding: .utf8) }.flatMap(AuditCheckpoint.init(parsing:)))
            }
    }
}

public enum AuditCheckpointError: Error, CustomStringConvertible {
    case unwritable(String)

    public var description: String {
        switch self {
        case .unwritable(let file): "The audit checkpoint \(file) could not be written."
        }
    }
}
