import ConcertoCore
import Crypto
import Foundation
import SQLKit

/// Activity figures for coordination centres (3C, RRC): the cases a community's boards
/// decided over a period.
public struct ActivityStore: Sendable {
    let database: Database

    public init(database: Database) { self.database = database }

    /// Cases with a recorded decision whose meeting starts in [from, to), by meeting then agenda order.
    public func presentedCases(community communityID: UUID, from: Date, to: Date, meeting meetingID: UUID? = nil) async throws -> [PresentedCase] {
        let secret = try await pseudonymSecret(community: communityID)
        let rows = try await database.read { sql in
            try await sql.raw("""
                SELECT m.starts_at, m.title, c.patient_id, c.content, c.decision
                FROM cases c JOIN meetings m ON m.id = c.meeting_id
                LEFT JOIN meeting_agenda a ON a.meeting_id = m.id AND a.case_id = c.id
                WHERE m.community_id = \(bind: communityID.storageKey) AND c.community_id = \(bind: communityID.storageKey)
                  AND m.starts_at >= \(bind: Timestamp.epochSeconds(from)) AND m.starts_at < \(bind: Timestamp.epochSeconds(to))
                  AND c.decision IS NOT NULL AND (\(bind: meetingID?.storageKey) IS NULL OR m.id = \(bind: meetingID?.storageKey))
                ORDER BY m.starts_at, m.id, a.position, c.id
                """).all()
        }
        let key = SymmetricKey(data: Data(secret.utf8))
        return try rows.map { row in
            let patient = try row.decode(column: "patient_id", as: String.self)
            let mac = HMAC<SHA256>.authenticationCode(for: Data(patient.utf8), using: key)
            return PresentedCase(
                meetingStartsAt: Timestamp.date(epochSeconds: try row.decode(column: "starts_at", as: Int64.self)),
                meetingTitle: try row.decode(column: "title", as: String.self),
                patientKey: mac.prefix(8).map { String(format: "%02x", $0) }.joined(),
                content: try CaseStore.decode(CaseContent.self, try row.decode(column: "content", as: String.self)),
                decision: try CaseStore.decode(CaseDecision.self, try row.decode(column: "decision", as: String.self)))
        }
    }

    /// The community's key, created on first use (two nodes racing: the first insert wins).
    func pseudonymSecret(community communityID: UUID) async throws -> String {
        let existing = try await database.read { sql in
            try await sql.raw("SELECT secret FROM export_keys WHERE community_id = \(bind: communityID.storageKey)").first()?
                .decode(column: "secret", as: String.self)
        }
        if let existing { return existing }
        let fresh = SymmetricKey(size: .bits256).withUnsafeBytes { Data($0).base64EncodedString() }
        return try await database.write { sql in
            try await sql.raw("""
                INSERT INTO export_keys (community_id, secret, created_at) VALUES (\(bind: communityID.storageKey), \(bind: fresh), \(bind: Timestamp.iso8601(Date())))
                ON CONFLICT (community_id) DO NOTHING
                """).run()
            return try await sql.raw("SELECT secret FROM export_keys WHERE community_id = \(bind: communityID.storageKey)").first()?
                .decode(column: "secret", as: String.self) ?? fresh
        }
    }
}
