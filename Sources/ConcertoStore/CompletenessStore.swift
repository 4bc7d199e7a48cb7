import ConcertoCore
import Foundation
import SQLKit

/// What is known of fiches when their completeness is checked (issue 20): their content's
/// facts and attestations, the reports filed for their patients in their community, the
/// studies attached to them. One statement for a whole agenda.
public struct CompletenessStore: Sendable {
    let database: Database

    public init(database: Database) {
        self.database = database
    }

    public func evidence(forCase caseID: UUID) async throws -> CompletenessEvidence? {
        try await evidence(forCases: [caseID])[caseID]
    }

    public func evidence(forCases caseIDs: [UUID]) async throws -> [UUID: CompletenessEvidence] {
        guard !caseIDs.isEmpty else { return [:] }
        let values = SQLQueryString.valueRows(caseIDs.map(\.storageKey))
        // Only the report types some check reads; a superseded version is not evidence.
        let reportTypes = [CompletenessCheck.pathologyReportType, CompletenessCheck.molecularReportType]
        let rows = try await database.read { sql in
            try await sql.raw("""
                WITH wanted (id) AS (VALUES \(values))
                SELECT 'case' AS kind, c.id AS case_id, c.tumour_site AS a, c.content_facts AS b, c.completeness_attested AS c,
                       c.completeness_override AS d FROM cases c
                  WHERE c.id IN (SELECT id FROM wanted)
                UNION ALL
                SELECT 'report', c.id, d.type_code, d.effective_time, NULL, NULL FROM cases c
                  JOIN documents d ON d.patient_id = c.patient_id AND d.community_id = c.community_id
                  WHERE c.id IN (SELECT id FROM wanted) AND d.superseded_by IS NULL AND d.type_code IN (\(binds: reportTypes))
                UNION ALL
                SELECT 'study', s.case_id, s.study_date, NULL, NULL, NULL FROM case_studies s WHERE s.case_id IN (SELECT id FROM wanted)
                """).all()
        }
        var result: [UUID: CompletenessEvidence] = [:]
        var reports: [UUID: [CompletenessEvidence.Report]] = [:]
        var studies: [UUID: [CalendarDate?]] = [:]
        for row in rows {
            guard let caseID = UUID(storageKey: try row.decode(column: "case_id", as: String.self)) else { continue }
            let a = try row.decode(column: "a", as: String?.self), b = try row.decode(column: "b", as: String?.self)
            switch try row.decode(column: "kind", as: String.self) {
            case "case":
                let attested = (try row.decode(column: "c", as: String?.self)).flatMap { try? JSONDecoder().decode([String].self, from: Data($0.utf8)) } ?? []
                result[caseID] = CompletenessEvidence(tumourSiteCode: a, contentFacts: ContentFact.facts(storageValue: b ?? ""), attested: Set(attested),
                                                      override: try row.decode(column: "d", as: String?.self))
            case "report":
                if let a { reports[caseID, default: []].append(.init(type: a, day: b.flatMap { CalendarDate(iso: String($0.prefix(10))) })) }
            default:
                studies[caseID, default: []].append(a.flatMap(CalendarDate.init(iso:)))
            }
        }
        for caseID in result.keys {
            result[caseID]?.reports = reports[caseID] ?? []
            result[caseID]?.studyDays = studies[caseID] ?? []
        }
        return result
    }
}
