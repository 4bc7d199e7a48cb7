import ConcertoCore
import ConcertoStore
import Foundation
import Logging
import SQLKit

/// Case search over a generated region-sized set of fiches (default 1,000,000 cases of
/// 250,000 patients in 4 communities, three years of weekly boards), then the query mix a
/// board's users type: a name prefix, an INS, an IPP, one and two words of the fiche's text,
/// text with a status, a site with a status, a meeting, a date range. Each query as the
/// search page runs it (`CaseStore.search`, first page of 20); p50/p99 per kind and overall.
enum SearchBench {
    /// Deterministic pseudo-random numbers, so both engines get the same data set.
    typealias Generator = SplitMix64

    static let syllables = ["MAR", "TIN", "DU", "PONT", "BER", "NARD", "LE", "ROY", "MO", "REAU", "GIR", "AUD", "FOUR", "NIER", "LAM", "BERT",
                            "BON", "NET", "RO", "BIN", "FAU", "RE", "GAR", "NIER", "CHE", "VAL", "LIER", "MER", "CIER", "BLANC", "GUE", "RIN"]
    static let firstNames = ["Marie", "Jean", "Pierre", "Anne", "Louise", "Paul", "Claire", "Michel", "Sophie", "Jacques", "Nathalie", "Alain",
                             "Isabelle", "Philippe", "Catherine", "Bernard", "Sylvie", "Daniel", "Monique", "Patrick"]
    static let vocabulary = """
        carcinome adenocarcinome tumeur nodule lesion biopsie scanner irm tep metastase ganglion envahissement exerese resection chirurgie
        chimiotherapie radiotherapie hormonotherapie immunotherapie surveillance recidive progression reponse stable mesurable cible marge
        infiltrant canalaire lobulaire epidermoide neuroendocrine mucineux differencie peu bien grade ki67 her2 recepteurs oestrogenes
        mutation egfr alk kras braf pdl1 msi instabilite lobe superieur inferieur droit gauche bilateral sein poumon colon rectum prostate
        vessie rein foie pancreas estomac oesophage ovaire uterus col thyroide cerebral osseux hepatique pulmonaire peritoneal pleural
        adjuvant neoadjuvant palliatif curatif symptomatique asymptomatique douleur perte poids asthenie anemie toux dyspnee hematurie
        rectorragie occlusion ictere dysphagie fracture compression medullaire hypercalcemie thrombose embolie infection neutropenie
        """.split(whereSeparator: \.isWhitespace).map(String.init)
    static let statuses: [(CaseStatus, Int)] = [(.validated, 50), (.draft, 25), (.registered, 10), (.discussed, 8), (.toRepresent, 7)]

    /// A fiche's status, the first draw of its generator (the fiches' rows and their
    /// follow-ups draw it the same way).
    static func status(_ generator: inout Generator) -> CaseStatus {
        var roll = generator.below(100)
        for (candidate, share) in statuses {
            if roll < share { return candidate }
            roll -= share
        }
        return .validated
    }

    static func run(_ options: Options) async throws {
        try await withBenchDatabase(options) { database, engineName in
            let clock = ContinuousClock()
            let started = clock.now
            var reused = try await existing(database, cases: options.cases)
            if reused == nil { reused = try await generate(database, cases: options.cases) }
            guard let world = reused else { throw BenchError.missingFacts }
            print(String(format: "== %@: %d cases of %d patients generated and indexed in %.0f s", engineName, options.cases, world.patients, milliseconds(clock.now - started) / 1000))
            let result = try await measure(database, world: world, iterations: options.iterations)
            let p99 = percentile(result, 0.99)
            print(String(format: "case search (%@, %d cases): %d queries, p50 %.2f ms, p95 %.2f ms, p99 %.2f ms, max %.2f ms",
                         engineName, options.cases, result.count, percentile(result, 0.5), percentile(result, 0.95), p99, result.last ?? 0))
            if p99 < 50 {
                print("bench (\(engineName)): case search target met (p99 < 50 ms)")
                return true
            }
            print(String(format: "bench (%@): case search target NOT met (p99 %.2f ms, target < 50 ms)", engineName, p99))
            return false
        }
    }

    struct World {
        var communities: [UUID]
        var organisation: UUID
        var patients: Int
        var meetings: [UUID]
        var inses: [String]
        var ipps: [String]
        var names: [String]
    }

    static func patientID(_ index: Int) -> String { String(format: "00000000-0000-4000-8000-%012d", index) }

    static func ins(_ index: Int) -> String {
        // Test NIR: sex, year, month, department 99 (born abroad), a serial; key 97 − n mod 97.
        let body = String(format: "%d%02d%02d99%06d", 1 + index % 2, 40 + index % 60, 1 + index % 12, index % 1_000_000)
        return body + String(format: "%02d", 97 - Int(UInt64(body)! % 97))
    }

    static func name(_ index: Int) -> String {
        var generator = Generator(state: UInt64(index) &* 7919)
        return syllables[generator.skewed(syllables.count)] + syllables[generator.below(syllables.count)]
            + (index % 3 == 0 ? syllables[generator.below(syllables.count)] : "")
    }

    /// A row of values to bind; nil binds NULL.
    static func row(_ values: (any Encodable & Sendable)?...) -> [any Encodable & Sendable] {
        values.map { $0 ?? String?.none }
    }

    /// Batched multi-row inserts with bound values, in large transactions.
    static func insert(_ database: Database, table: String, columns: [String], rows: Int, batch: Int = 400,
                       values: @escaping @Sendable (Int) -> [any Encodable & Sendable]) async throws {
        var done = 0
        while done < rows {
            let chunk = min(batch * 25, rows - done)
            let first = done
            try await database.write { sql in
                var offset = 0
                while offset < chunk {
                    let count = min(batch, chunk - offset)
                    var query = SQLQueryString("INSERT INTO \(unsafeRaw: table) (\(unsafeRaw: columns.joined(separator: ", "))) VALUES ")
                    for row in 0..<count {
                        let fields = values(first + offset + row)
                        query.appendLiteral(row == 0 ? "(" : ", (")
                        for (index, field) in fields.enumerated() {
                            if index > 0 { query.appendLiteral(", ") }
                            query.appendInterpolation(bind: field)
                        }
                        query.appendLiteral(")")
                    }
                    try await sql.raw(query).run()
                    offset += count
                }
            }
            done += chunk
        }
    }

    /// A data set generated by an earlier run on the same database (`--database`), reused.
    static func existing(_ database: Database, cases caseCount: Int) async throws -> World? {
        try await database.read { sql in
            guard try await sql.raw("SELECT COUNT(*) AS n FROM cases").first()?.decode(column: "n", as: Int64.self) == Int64(caseCount) else { return nil }
            func ids(_ table: String) async throws -> [UUID] {
                try await sql.raw("SELECT id FROM \(unsafeRaw: table) ORDER BY id").all().compactMap { UUID(storageKey: try $0.decode(column: "id", as: String.self)) }
            }
            let patientCount = max(1, caseCount / 4)
            guard let organisation = try await ids("organisations").first else { return nil }
            return World(communities: try await ids("communities"), organisation: organisation, patients: patientCount, meetings: try await ids("meetings"),
                         inses: (0..<200).map { ins($0 * 2 * 613 % patientCount / 2 * 2) }, ipps: (0..<200).map { "IPP\(($0 * 997 % (patientCount / 2)) * 2 + 1)" },
                         names: (0..<200).map { name($0 * 37) })
        }
    }

    /// `years` of weekly boards in each of `communityNames`; discussed and validated fiches
    /// carry what the 3C's indicators read (meeting day, quorum, trial, delays, follow-up).
    static func generate(_ database: Database, cases caseCount: Int, years: Int = 3,
                         communityNames: [String] = ["Thorax", "Digestif", "Sein", "Uro"]) async throws -> World {
        let communities = CommunityStore(database: database), users = UserStore(database: database)
        if database.engine == .sqlite {
            // The writer's page cache (2 MB by default) for the load only: a million fiches with
            // their indexes and the indicator triggers otherwise spill and re-read pages all along.
            try await database.write { sql in try await sql.raw("PRAGMA cache_size = -1048576").run() }
        }
        // A FINESS number of its own, so that the generator also runs on a database holding the demo.
        let finess = (0...9).lazy.compactMap { FINESSNumber("33099999\($0)") }.first!
        let organisation = Organisation(name: "CHU (bench)", finess: finess, city: "Bordeaux")
        try await OrganisationStore(database: database).create(organisation, audit: nil)
        var communityIDs: [UUID] = []
        for name in communityNames {
            let community = Community(name: name, region: "NA")
            try await communities.create(community)
            communityIDs.append(community.id)
        }
        let author = User(email: "bench@bench.test", displayName: "Bench", rppsNumber: RPPSNumber(completing: "1000000001")?.digits, organisationID: organisation.id, role: .physician)
        try await users.create(author, passwordHash: "x")
        for community in communityIDs { try await communities.addMember(userID: author.id, to: community, role: .physician) }

        let patientCount = max(1, caseCount / 4)
        let now = Date()
        let threeYears = Double(years) * 365 * 86_400.0
        // Weekly boards per community over the years.
        let weeks = years * 52
        var meetingIDs: [UUID] = []
        var meetingDays: [String] = []
        for community in communityIDs {
            for week in 0..<weeks {
                let id = UUID()
                let start = now.addingTimeInterval(-threeYears + Double(week) * 7 * 86_400)
                try await MeetingStore(database: database).create(id: id, communityID: community, title: "RCP", startsAt: start, endsAt: start.addingTimeInterval(7200))
                meetingIDs.append(id)
                meetingDays.append(ParisCalendar.date(of: start).iso)
            }
        }
        let communityKeys = communityIDs.map(\.storageKey), authorKey = author.id.storageKey, organisationKey = organisation.id.storageKey
        let createdAt = Timestamp.iso8601(now)
        try await insert(database, table: "patients", columns: ["id", "birth_name", "first_names", "first_name", "birth_date", "sex", "ins_matricule", "ins_oid",
                                                               "identity_status", "created_by", "created_at", "updated_at"], rows: patientCount) { index in
            let first = firstNames[index % firstNames.count]
            let qualified = index % 2 == 0
            return row(patientID(index), name(index), first, first, String(format: "%04d-%02d-%02d", 1940 + index % 60, 1 + index % 12, 1 + index % 28),
                    index % 2 == 0 ? "F" : "M", qualified ? ins(index) : nil, qualified ? INSKind.test.oid : nil,
                    qualified ? "QUAL" : "PROV", authorKey, createdAt, createdAt)
        }
        try await insert(database, table: "patient_local_ids", columns: ["organisation_id", "ipp", "patient_id"], rows: patientCount / 2) { index in
            [organisationKey, "IPP\(index * 2 + 1)", patientID(index * 2 + 1)]
        }
        let sites = Terminology.tumourSites.concepts.map(\.code)
        // Breast, lung, colon, prostate... first: the common sites lead the skew.
        let common = ["C50.9", "C34.1", "C18.7", "C61", "C20", "C67.9", "C25.0", "C64", "C56", "C16.9"].filter(sites.contains)
        let siteList = common + sites.filter { !common.contains($0) }
        let meetingKeys = meetingIDs.map(\.storageKey), days = meetingDays
        // About 70 % of the validated decisions are followed up (also in case_follow_ups below).
        let outcomes = ["carried_out", "carried_out", "carried_out", "carried_out", "partially", "not_carried_out"]
        try await insert(database, table: "cases", columns: ["id", "community_id", "patient_id", "status", "created_by", "created_at", "content", "tumour_site",
                                                            "search_text", "meeting_id", "updated_at", "discussed_on", "organisation_id", "quorum_met",
                                                            "trial_proposed", "first_presentation", "registration_lead_days", "validation_delay_days",
                                                            "complete_at_discussion", "follow_up_outcome", "treatment_delay_days"],
                         rows: caseCount, batch: 200) { index in
            var generator = Generator(state: UInt64(index) &+ 17)
            let patient = index % patientCount
            let community = patient % communityKeys.count
            let status = Self.status(&generator)
            let age = Double(generator.below(Int(threeYears)))
            let created = now.addingTimeInterval(-age)
            let week = min(weeks - 1, max(0, Int((threeYears - age) / (7 * 86_400)) + 1))
            let words = (0..<(12 + generator.below(18))).map { _ in vocabulary[generator.skewed(vocabulary.count)] }.joined(separator: " ")
            let site = siteList[generator.skewed(siteList.count)]
            let meeting: String? = status == .draft ? nil : meetingKeys[community * weeks + week]
            let discussed = status == .discussed || status == .validated
            // Typed, so that a missing value is a BIGINT null for PostgreSQL, not a text one.
            func number(_ value: Int64?) -> any Encodable & Sendable { value }
            func text(_ value: String?) -> any Encodable & Sendable { value }
            func flag(_ percent: Int) -> any Encodable & Sendable { number(discussed ? (generator.below(100) < percent ? 1 : 0) : nil) }
            return row(String(format: "00000000-0000-4000-9000-%012d", index), communityKeys[community], patientID(patient), status.rawValue, authorKey,
                    Timestamp.iso8601(created), "{\"tnm\":{}}", site, words, meeting, Timestamp.iso8601(created),
                    text(discussed ? days[community * weeks + week] : nil), text(discussed ? organisationKey : nil), flag(95), flag(10),
                    number(discussed ? Int64(index < patientCount ? 1 : 0) : nil), number(status == .draft ? nil : Int64(1 + generator.below(14))),
                    number(status == .validated ? Int64(generator.below(10)) : nil), flag(80),
                    text(status == .validated && index % 10 < 7 ? outcomes[index % 6] : nil),
                    number(status == .validated && index % 10 < 7 && outcomes[index % 6] != "not_carried_out" ? Int64(7 + index % 40) : nil))
        }
        // Follow-ups of about 70 % of the validated decisions.
        let validated = (0..<caseCount).filter { index in
            var generator = Generator(state: UInt64(index) &+ 17)
            return Self.status(&generator) == .validated && index % 10 < 7
        }
        try await insert(database, table: "case_follow_ups", columns: ["case_id", "outcome", "first_treatment_on", "recorded_by", "recorded_at", "revision"],
                         rows: validated.count, batch: 400) { position in
            let index = validated[position]
            let outcome = outcomes[index % 6]
            let first: String? = outcome == "not_carried_out" ? nil : createdAt
            return row(String(format: "00000000-0000-4000-9000-%012d", index), outcome, first, authorKey, createdAt, Int64(1))
        }
        // Statistics for the planners, as `PRAGMA optimize` / autovacuum keep them in service.
        try await database.write { sql in
            try await sql.raw(database.engine == .sqlite ? "ANALYZE" : "ANALYZE cases").run()
            if database.engine == .postgres { try await sql.raw("ANALYZE patients").run() }
        }
        let names = (0..<200).map { name($0 * 37) }
        return World(communities: communityIDs, organisation: organisation.id, patients: patientCount, meetings: meetingIDs,
                     inses: (0..<200).map { ins($0 * 2 * 613 % patientCount / 2 * 2) }, ipps: (0..<200).map { "IPP\(($0 * 997 % (patientCount / 2)) * 2 + 1)" },
                     names: names)
    }

    static func measure(_ database: Database, world: World, iterations: Int) async throws -> [Double] {
        let store = CaseStore(database: database)
        let clock = ContinuousClock()
        var generator = Generator(state: 42)
        let base = CaseSearch(communityIDs: world.communities, fullTextCommunityIDs: world.communities, organisationID: world.organisation)
        func query(_ kind: Int) -> (String, CaseSearch) {
            var search = base
            switch kind {
            case 0: search.text = String(world.names[generator.below(world.names.count)].prefix(4 + generator.below(3))).lowercased(); return ("name prefix", search)
            case 1: search.text = world.inses[generator.below(world.inses.count)]; return ("INS", search)
            case 2: search.text = world.ipps[generator.below(world.ipps.count)]; return ("IPP", search)
            case 3: search.text = vocabulary[generator.below(vocabulary.count)]; return ("one word", search)
            case 4:
                search.text = vocabulary[generator.skewed(vocabulary.count)] + " " + vocabulary[generator.below(vocabulary.count)]
                return ("two words", search)
            case 5:
                search.text = vocabulary[generator.skewed(vocabulary.count)]
                search.status = [.discussed, .toRepresent, .registered][generator.below(3)]
                return ("word + status", search)
            case 6:
                search.tumourSite = ["C50", "C34", "C18", "C61", "C25", "C71"][generator.below(6)]
                search.status = [.validated, .discussed][generator.below(2)]
                return ("site + status", search)
            case 7: search.meetingID = world.meetings[generator.below(world.meetings.count)]; return ("meeting", search)
            default:
                let from = Date().addingTimeInterval(-Double(generator.below(1000)) * 86_400)
                search.from = from
                search.to = from.addingTimeInterval(30 * 86_400)
                search.status = .validated
                return ("date range", search)
            }
        }
        // Warm-up, then measure; one query at a time, as a user waits for the page.
        for kind in 0..<9 { _ = try await store.search(query(kind).1) }
        var all: [Double] = []
        var byKind: [String: [Double]] = [:]
        var found: [String: Int] = [:]
        for index in 0..<max(iterations / 10, 900) {
            let (kind, search) = query(index % 9)
            let start = clock.now
            let result = try await store.search(search)
            let elapsed = milliseconds(clock.now - start)
            all.append(elapsed)
            byKind[kind, default: []].append(elapsed)
            found[kind, default: 0] += result.items.count
        }
        for (kind, times) in byKind.sorted(by: { $0.key < $1.key }) {
            let sorted = times.sorted()
            print(String(format: "  %@ p50 %7.2f ms  p99 %7.2f ms  max %7.2f ms  (%.1f results per page)", kind.padding(toLength: 14, withPad: " ", startingAt: 0), percentile(sorted, 0.5),
                         percentile(sorted, 0.99), sorted.last ?? 0, Double(found[kind] ?? 0) / Double(times.count)))
        }
        return all.sorted()
    }
}

extension SplitMix64 {
    /// Skewed towards the first items: a few common values and a long tail.
    mutating func skewed(_ n: Int) -> Int { min(n - 1, Int(Double(n) * pow(Double(below(1_000_000)) / 1_000_000, 3))) }
}
