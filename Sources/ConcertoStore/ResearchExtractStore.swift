import ConcertoCore
import Crypto
import Foundation
import SQLKit

/// One discussed fiche as a research extract carries it (issue 20): a pseudonym in place
/// of the patient, months in place of dates, codes in place of narrative.
public struct ResearchRow: Sendable, Equatable {
    public var pseudonym: String
    public var birthYear: Int
    public var sex: String
    public var meetingMonth: String
    public var tumourSiteCode: String?
    public var morphology: String?
    public var tnm: TNM
    public var decision: CaseDecision?
    public var validatedMonth: String?
    public var followUpOutcome: FollowUpOutcome?
    public var treatmentDelayDays: Int?
    public var carePlanGiven: Bool
}

/// The pseudonymised extract of a community's discussed fiches. The pseudonym is
/// HMAC-SHA256 of the patient's id under the community's key, derived from the key file
/// outside the database (`AuditKey.pseudonymKey`): stable across exports, another per
/// community, and not computable from the database alone.
public struct ResearchExtractStore: Sendable {
    let database: Database

    public init(database: Database) {
        self.database = database
    }

    public enum Failure: Error { case noKey }

    public static func pseudonym(patient: UUID, key: SymmetricKey) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Data(patient.storageKey.utf8), using: key)
        // 128 bits: no collision in any registry's lifetime, short enough for a spreadsheet.
        return Data(mac).prefix(16).map { String(format: "%02x", $0) }.joined()
    }

    /// Fiches discussed from `from` to `to` (exclusive), by meeting day.
    public func rows(community communityID: UUID, from: CalendarDate, to: CalendarDate) async throws -> [ResearchRow] {
        guard let auditKey = database.auditKey else { throw Failure.noKey }
        let key = auditKey.pseudonymKey(community: communityID)
        let rows = try await database.read { sql in
            try await sql.raw("""
                SELECT c.patient_id, p.birth_date, p.sex, c.discussed_on, c.content, c.decision, c.validated_at,
                       f.outcome, c.treatment_delay_days, f.care_plan_given_on
                FROM cases c JOIN patients p ON p.id = c.patient_id LEFT JOIN case_follow_ups f ON f.case_id = c.id
                WHERE c.community_id = \(bind: communityID.storageKey) AND c.discussed_on >= \(bind: from.iso) AND c.discussed_on < \(bind: to.iso)
                  AND c.status IN ('discussed', 'validated')
                ORDER BY c.discussed_on, c.id
                """).all()
        }
        let decoder = JSONDecoder()
        return try rows.compactMap { row in
            guard let patient = UUID(storageKey: try row.decode(column: "patient_id", as: String.self)),
                  let birth = CalendarDate(iso: try row.decode(column: "birth_date", as: String.self)),
                  let discussedOn = try row.decode(column: "discussed_on", as: String?.self) else { return nil }
            let content = try decoder.decode(CaseContent.self, from: Data(try row.decode(column: "content", as: String.self).utf8))
            let decision = try row.decode(column: "decision", as: String?.self).map { try decoder.decode(CaseDecision.self, from: Data($0.utf8)) }
            return ResearchRow(
                pseudonym: Self.pseudonym(patient: patient, key: key), birthYear: birth.year, sex: try row.decode(column: "sex", as: String.self),
                meetingMonth: String(discussedOn.prefix(7)), tumourSiteCode: content.tumourSiteCode,
                // A histology label, capped: the one typed field kept, and only its first words.
                morphology: content.morphology.map { String($0.prefix(80)) }, tnm: content.tnm, decision: decision,
                validatedMonth: try row.decode(column: "validated_at", as: String?.self).map { String($0.prefix(7)) },
                followUpOutcome: try row.decode(column: "outcome", as: String?.self).flatMap(FollowUpOutcome.init(rawValue:)),
                treatmentDelayDays: try row.decode(column: "treatment_delay_days", as: Int64?.self).map(Int.init),
                carePlanGiven: try row.decode(column: "care_plan_given_on", as: String?.self) != nil)
        }
    }
}
