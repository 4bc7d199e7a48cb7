import Foundation
import HummingbirdOTP

/// TOTP (RFC 6238, 30 s steps, 6 digits, SHA-1: what authenticator apps expect).
enum TwoFactor {
    static let timeStep: TimeInterval = 30
    /// Codes from the previous and next step are accepted too, for clock drift.
    static let allowedDrift: Int64 = 1

    /// A new shared secret. HummingbirdOTP keys HMAC with the secret's UTF-8 bytes,
    /// so the secret is 20 random ASCII characters (160 bits of key material).
    static func newSecret() -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
        var generator = SystemRandomNumberGenerator()
        return String((0..<20).map { _ in alphabet.randomElement(using: &generator)! })
    }

    /// The key as the user types it into an authenticator app: base32 in groups of four.
    static func displayKey(secret: String) -> String {
        let encoded = base32(Array(secret.utf8))
        return stride(from: 0, to: encoded.count, by: 4).map { start in
            let from = encoded.index(encoded.startIndex, offsetBy: start)
            let to = encoded.index(from, offsetBy: min(4, encoded.count - start))
            return String(encoded[from..<to])
        }.joined(separator: " ")
    }

    static func authenticatorURL(secret: String, account: String) -> String {
        TOTP(secret: secret).createAuthenticatorURL(label: "Concerto:\(account)", issuer: "Concerto")
    }

    static func step(at date: Date) -> Int64 {
        Int64((date.timeIntervalSince1970 / timeStep).rounded(.down))
    }

    /// The time step whose code is `code`, if any within the allowed drift.
    static func matchingStep(code rawCode: String, secret: String, at date: Date) -> Int64? {
        let code = rawCode.filter { !$0.isWhitespace }
        guard code.count == 6, code.allSatisfy(\.isASCII), let value = Int(code) else { return nil }
        let totp = TOTP(secret: secret)
        let current = step(at: date)
        for candidate in (current - allowedDrift)...(current + allowedDrift) {
            let instant = Date(timeIntervalSince1970: TimeInterval(candidate) * timeStep)
            if totp.compute(date: instant) == value { return candidate }
        }
        return nil
    }

    /// RFC 4648 base32 without padding.
    static func base32(_ bytes: [UInt8]) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
        var output = ""
        var buffer = 0
        var bits = 0
        for byte in bytes {
            buffer = (buffer << 8) | Int(byte)
            bits += 8
            while bits >= 5 {
                output.append(alphabet[(buffer >> (bits - 5)) & 31])
                bits -= 5
            }
        }
        if bits > 0 { output.append(alphabet[(buffer << (5 - bits)) & 31]) }
        return output
    }
}
