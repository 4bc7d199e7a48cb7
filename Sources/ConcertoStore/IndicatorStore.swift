import ConcertoCore
import Foundation
import SQLKit

/// The 3C's indicators of a community (issue 20). They read the daily totals that triggers
/// keep as fiches are discussed, validated and followed up (migration 0029), so a period
/// costs its days, not its fiches: a region's ten years are a few tens of thousands of rows.
public struct IndicatorStore: Sendable {
    let database: Database

    public init(database: Database) {
        self.database = database
    }

    /// Fiches discussed from `from` to `to` (exclusive, days of their meeting, Paris).
    public func indicators(community communityID: UUID, from: CalendarDate, to: CalendarDate) async throws -> CommunityIndicators {
        let community = communityID.storageKey
        let period: SQLQueryString = "community_id = \(bind: community) AND day >= \(bind: from.iso) AND day < \(bind: to.iso)"
        // Sums are cast: PostgreSQL sums BIGINTs as NUMERIC.
        let (groups, meetings, patients, delays, names) = try await database.read { sql in
            // Per month, site category and organisation: every count the shares are made of.
            let groups = try await sql.raw("""
                SELECT substr(day, 1, 7) AS month, site, organisation_id AS org,
                       CAST(SUM(fiches) AS BIGINT) AS fiches, CAST(SUM(quorum) AS BIGINT) AS quorum, CAST(SUM(trial) AS BIGINT) AS trial,
                       CAST(SUM(checked) AS BIGINT) AS checked, CAST(SUM(complete) AS BIGINT) AS complete,
                       CAST(SUM(validated) AS BIGINT) AS validated, CAST(SUM(followed) AS BIGINT) AS followed,
                       CAST(SUM(carried) AS BIGINT) AS carried, CAST(SUM(partial) AS BIGINT) AS partial,
                       CAST(SUM(new_patients) AS BIGINT) AS new_patients
                FROM indicator_days
                WHERE \(period)
                GROUP BY substr(day, 1, 7), site, organisation_id
                HAVING SUM(fiches) <> 0
                """).all()
            // Meetings held: those with a fiche discussed; with quorum when every decision had it.
            let meetings = try await sql.raw("""
                SELECT month, COUNT(*) AS meetings, CAST(SUM(CASE WHEN without_quorum = 0 THEN 1 ELSE 0 END) AS BIGINT) AS with_quorum FROM (
                    SELECT substr(MIN(day), 1, 7) AS month, SUM(without_quorum) AS without_quorum
                    FROM indicator_meetings WHERE \(period) AND fiches > 0 GROUP BY meeting_id) held
                GROUP BY month
                """).all()
            // A patient is counted once, on their first fiche of the period: the one whose
            // previous discussion in the community, if any, falls before the period.
            let patients = try await sql.raw("""
                SELECT COUNT(*) AS patients FROM cases
                WHERE community_id = \(bind: community) AND discussed_on >= \(bind: from.iso) AND discussed_on < \(bind: to.iso)
                  AND status IN ('discussed', 'validated')
                  AND (previous_discussed_on IS NULL OR previous_discussed_on < \(bind: from.iso))
                """).first()
            let delays = try await sql.raw("""
                SELECT kind, days, CAST(SUM(fiches) AS BIGINT) AS n FROM indicator_delays
                WHERE \(period) GROUP BY kind, days HAVING SUM(fiches) <> 0
                """).all()
            let names = try await sql.raw("""
                SELECT o.id, o.name FROM organisations o
                WHERE o.id IN (SELECT DISTINCT organisation_id FROM indicator_days WHERE \(period) AND fiches <> 0)
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
