import HummingbirdBcrypt
import NIOPosix

/// bcrypt hashing and checking, run on the thread pool: a hash takes ~0.25 s at cost 12
/// and must not stall the event loops.
public struct PasswordHasher: Sendable {
    public let cost: UInt8
    /// A real hash of a random password, checked when the e-mail is unknown so the
    /// response time does not reveal which addresses have accounts.
    private let decoyHash: String

    public init(cost: UInt8) {
        self.cost = cost
        self.decoyHash = Bcrypt.hash(CSRFToken.generate(), cost: cost)
    }

    public func hash(_ password: String) async throws -> String {
        let cost = cost
        return try await NIOThreadPool.singleton.runIfActive { Bcrypt.hash(password, cost: cost) }
    }

    public func verify(_ password: String, hash: String) async throws -> Bool {
        // An account without a password (opened through Pro Santé Connect) spends the time
        // of a real check too, so timing does not say which accounts have none.
        guard hash.hasPrefix("$2") else { return try await verifyDecoy(password) }
        return try await NIOThreadPool.singleton.runIfActive { Bcrypt.verify(password, hash: hash) }
    }

    /// Spends the time of one verification and returns false.
    public func verifyDecoy(_ password: String) async throws -> Bool {
        _ = try await verify(password, hash: decoyHash)
        return false
    }
}
