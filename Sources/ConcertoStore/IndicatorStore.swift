import ConcertoCore
import Foundation
import SQLKit

/// The 3C's indicators of a community (issue 20), aggregated by the database from the
/// columns each step of the workflow writes (migration 0027): a few grouped statements over
/// the period's discussed fiches, whatever their number.
public struct IndicatorStore: Sendable {
    let database: Database

    public init(database: Database) {
        self.database = database
    }

    /// Fiches discussed from `from` to `to` (exclusive, days of their meeting, Paris).
    public func indicators(community communityID: UUID, from: CalendarDate, to: CalendarDate) async throws -> CommunityIndicators {
        let scope: SQLQueryString = """
            c.community_id = \(bind: communityID.storageKey) AND c.discussed_on >= \(bind: from.iso) AND c.discussed_on < \(bind: to.iso)
              AND c.status IN ('discussed', 'validated')
            """
        // Sums are cast: PostgreSQL sums BIGINTs as NUMERIC.
        let (groups, meetings, patients, delays, names) = try await database.read { sql in
            // Per month, site category and organisation: every count the shares are made of.
            let groups = try await sql.raw("""
                SELECT substr(c.discussed_on, 1, 7) AS month, substr(COALESCE(c.tumour_site, ''), 1, 3) AS site, c.organisation_id AS org,
                       COUNT(*) AS fiches,
                       CAST(SUM(COALESCE(c.quorum_met, 0)) AS BIGINT) AS quorum, CAST(SUM(COALESCE(c.trial_proposed, 0)) AS BIGINT) AS trial,
                       SUM(CASE WHEN c.complete_at_discussion IS NOT NULL THEN 1 ELSE 0 END) AS checked,
                       SUM(CASE WHEN c.complete_at_discussion = 1 THEN 1 ELSE 0 END) AS complete,
                       SUM(CASE WHEN c.status = 'validated' THEN 1 ELSE 0 END) AS validated,
                       SUM(CASE WHEN c.follow_up_outcome IS NOT NULL THEN 1 ELSE 0 END) AS followed,
                       SUM(CASE WHEN c.follow_up_outcome = 'carried_out' THEN 1 ELSE 0 END) AS carried,
                       SUM(CASE WHEN c.follow_up_outcome = 'partially' THEN 1 ELSE 0 END) AS partial,
                       CAST(SUM(COALESCE(c.first_presentation, 0)) AS BIGINT) AS new_patients
                FROM cases c
                WHERE \(scope)
                GROUP BY substr(c.discussed_on, 1, 7), substr(COALESCE(c.tumour_site, ''), 1, 3), c.organisation_id
                """).all()
            // Meetings held: those with a fiche discussed; with quorum when every decision had it.
            let meetings = try await sql.raw("""
                SELECT month, COUNT(*) AS meetings, CAST(SUM(all_quorum) AS BIGINT) AS with_quorum FROM (
                    SELECT substr(MIN(c.discussed_on), 1, 7) AS month, MIN(COALESCE(c.quorum_met, 0)) AS all_quorum
                    FROM cases c WHERE \(scope) GROUP BY c.meeting_id) held
                GROUP BY month
                """).all()
            let patients = try await sql.raw("SELECT COUNT(DISTINCT c.patient_id) AS patients FROM cases c WHERE \(scope)").first()
            let delays = try await sql.raw("""
                SELECT 'registration' AS kind, c.registration_lead_days AS days, COUNT(*) AS n FROM cases c
                  WHERE \(scope) AND c.registration_lead_days IS NOT NULL GROUP BY c.registration_lead_days
                UNION ALL
                SELECT 'validation', c.validation_delay_days, COUNT(*) FROM cases c
                  WHERE \(scope) AND c.validation_delay_days IS NOT NULL GROUP BY c.validation_delay_days
                UNION ALL
                SELECT 'treatment', c.treatment_delay_days, COUNT(*) FROM cases c
                  WHERE \(scope) AND c.treatment_delay_days IS NOT NULL GROUP BY c.treatment_delay_days
                """).all()
            let names = try await sql.raw("""
                SELECT o.id, o.name FROM organisations o
                WHERE o.id IN (SELECT DISTINCT c.organisation_id FROM cases c WHERE \(scope))
                """).all()
            return (groups, meetings, patients, delays, names)
        }

        var result = CommunityIndicators(from: from, to: to)
        var months: [String: IndicatorCounts] = [:], sites: [TumourSiteGroup: IndicatorCounts] = [:]
        var organisations: [String: (name: String, counts: IndicatorCounts)] = [:]
        var organisationNames: [String: String] = [:]
        for row in names { organisationNames[try row.decode(column: "id", as: String.self)] = try row.decode(column: "name", as: String.self) }
        func int(_ row: any SQLRow, _ column: String) throws -> Int { Int(try row.decode(column: column, as: Int64?.self) ?? 0) }
        for row in groups {
            var counts = IndicatorCounts()
            counts.fiches = try int(row, "fiches")
            counts.decisionsWithQuorum = try int(row, "quorum")
            counts.withTrial = try int(row, "trial")
            counts.completenessChecked = try int(row, "checked")
            counts.complete = try int(row, "complete")
            counts.validated = try int(row, "validated")
            counts.followedUp = try int(row, "followed")
            counts.carriedOut = try int(row, "carried")
            counts.partiallyCarriedOut = try int(row, "partial")
            let month = try row.decode(column: "month", as: String.self)
            let site = TumourSiteGroup.of(try row.decode(column: "site", as: String.self))
            let org = try row.decode(column: "org", as: String?.self) ?? ""
            months[month, default: IndicatorCounts()].add(counts)
            sites[site, default: IndicatorCounts()].add(counts)
            organisations[org, default: (organisationNames[org] ?? "", IndicatorCounts())].counts.add(counts)
            result.newPatients += try int(row, "new_patients")
            result.totals.add(counts)
        }
        for row in meetings {
            let month = try row.decode(column: "month", as: String.self)
            let held = try int(row, "meetings"), withQuorum = try int(row, "with_quorum")
            months[month, default: IndicatorCounts()].meetings += held
            months[month, default: IndicatorCounts()].meetingsWithQuorum += withQuorum
            result.totals.meetings += held
            result.totals.meetingsWithQuorum += withQuorum
        }
        if let patients { result.patients = try int(patients, "patients") }
        for row in delays {
            let days = try int(row, "days"), count = try int(row, "n")
            switch try row.decode(column: "kind", as: String.self) {
            case "registration": result.registrationToMeeting.add(days, count: count)
            case "validation": result.meetingToValidation.add(days, count: count)
            default: result.decisionToTreatment.add(days, count: count)
            }
        }
        result.byMonth = CommunityIndicators.months(from: from, to: to).map { ($0, months[$0] ?? IndicatorCounts()) }
        result.bySiteGroup = TumourSiteGroup.allCases.compactMap { group in sites[group].map { (group, $0) } }
        result.byOrganisation = organisations.map { (UUID(storageKey: $0.key), $0.value.name, $0.value.counts) }
            .sorted { ($0.counts.fiches, $1.name) > ($1.counts.fiches, $0.name) }
        return result
    }
}

extension IndicatorCounts {
    mutating func add(_ other: IndicatorCounts) {
        fiches += other.fiches
        meetings += other.meetings
        meetingsWithQuorum += other.meetingsWithQuorum
        decisionsWithQuorum += other.decisionsWithQuorum
        withTrial += other.withTrial
        completenessChecked += other.completenessChecked
        complete += other.complete
        validated += other.validated
        followedUp += other.followedUp
        carriedOut += other.carriedOut
        partiallyCarriedOut += other.partiallyCarriedOut
    }
}
