import ConcertoCore
import ConcertoStore
import Foundation

/// Demo organisations, accounts, communities, patients, care teams, an opposition and a
/// board meeting, for trying Concerto; seeded only into an empty database.
public struct DemoData: Sendable {
    public struct Account: Sendable, Equatable {
        public let email: String
        public let password: String
        public let role: ProfessionalRole
        /// The exact line `make run` prints for each account.
        public var line: String { "demo account: \(email) \(password) \(role.rawValue)" }
    }

    struct Person {
        let account: Account
        let name: String
        let specialtyCode: String?
        let rpps: String?
        let organisation: String?
        let memberships: [(community: String, role: CommunityRole)]
    }

    static let south = "RCP Nouvelle-Aquitaine Sud"
    static let north = "RCP Nouvelle-Aquitaine Nord"

    static let organisations: [(name: String, finess: String, street: String, postalCode: String, city: String)] = [
        ("CHU de Bordeaux", "330781196", "Place Amélie Raba-Léon", "33000", "Bordeaux"),
        ("Institut Bergonié", "330000662", "229 cours de l'Argonne", "33076", "Bordeaux"),
        ("Centre hospitalier de Pau", "640780417", "4 boulevard Hauterive", "64046", "Pau"),
        ("CHU de Poitiers", "860780014", "2 rue de la Milétrie", "86021", "Poitiers"),
    ]

    /// The fiche header's national identifiers of each demo community (demonstration values,
    /// not entries of a real regional directory) and the structure that manages its boards.
    static let registrations: [(community: String, network: String, networkID: String, boardID: String, manager: String)] = [
        (south, "Onco-Nouvelle-Aquitaine (démonstration)", "DEMO-RRC-NA", "DEMO-RCP-SUD", "Institut Bergonié"),
        (north, "Onco-Nouvelle-Aquitaine (démonstration)", "DEMO-RRC-NA", "DEMO-RCP-NORD", "CHU de Poitiers"),
    ]

    static let people: [Person] = [
        Person(account: Account(email: "admin@concerto.test", password: "Concerto-admin-2026", role: .admin),
               name: "Alice Administratrice", specialtyCode: nil, rpps: nil, organisation: nil, memberships: []),
        Person(account: Account(email: "coordination@concerto.test", password: "Concerto-coord-2026", role: .coordinator),
               name: "Camille Coordinatrice", specialtyCode: "SECRETARIAT_MEDICAL", rpps: nil, organisation: "CHU de Bordeaux",
               memberships: [(south, .coordinator), (north, .coordinator)]),
        Person(account: Account(email: "oncologue@concerto.test", password: "Concerto-onco-2026", role: .physician),
               name: "Dr Olivier Oncologue", specialtyCode: "G15_10/SM36", rpps: "10101010105", organisation: "Institut Bergonié",
               memberships: [(south, .physician)]),
        Person(account: Account(email: "chirurgienne@concerto.test", password: "Concerto-chir-2026", role: .physician),
               name: "Dr Claire Chirurgienne", specialtyCode: "G15_10/SM14", rpps: "10101010113", organisation: "CHU de Poitiers",
               memberships: [(north, .physician)]),
        Person(account: Account(email: "radiotherapeute@concerto.test", password: "Concerto-radio-2026", role: .physician),
               name: "Dr Rémi Radiothérapeute", specialtyCode: "G15_10/SM37", rpps: "10101010121", organisation: "Centre hospitalier de Pau",
               memberships: [(south, .physician)]),
        Person(account: Account(email: "chirurgien@concerto.test", password: "Concerto-chir2-2026", role: .physician),
               name: "Dr Hugo Chirurgien", specialtyCode: "G15_10/SM11", rpps: "10101010139", organisation: "CHU de Bordeaux",
               memberships: [(south, .physician)]),
        Person(account: Account(email: "secretariat@concerto.test", password: "Concerto-secr-2026", role: .secretary),
               name: "Sophie Secrétaire", specialtyCode: "SECRETARIAT_MEDICAL", rpps: nil, organisation: "Institut Bergonié",
               memberships: [(south, .secretary)]),
    ]

    public static var accounts: [Account] { people.map(\.account) }

    /// What seeding writes to, and how it hashes the demo passwords (the server's hasher).
    public struct Stores: Sendable {
        public let users: UserStore
        public let organisations: OrganisationStore
        public let communities: CommunityStore
        public let patients: PatientStore
        public let care: CareStore
        public let meetings: MeetingStore
        public let cases: CaseStore
        public let followUps: FollowUpStore
        public let hashPassword: @Sendable (String) async throws -> String

        public init(users: UserStore, organisations: OrganisationStore, communities: CommunityStore, patients: PatientStore, care: CareStore,
                    meetings: MeetingStore, cases: CaseStore, followUps: FollowUpStore, hashPassword: @escaping @Sendable (String) async throws -> String) {
            self.users = users
            self.organisations = organisations
            self.communities = communities
            self.patients = patients
            self.care = care
            self.meetings = meetings
            self.cases = cases
            self.followUps = followUps
            self.hashPassword = hashPassword
        }
    }

    static let communities = [
        Community(name: south, region: "Nouvelle-Aquitaine", kind: .transversal),
        Community(name: north, region: "Nouvelle-Aquitaine", kind: .organBased),
    ]

    /// Seeds when the database has no account, so a restart never duplicates or resets
    /// anything. Returns the demo accounts present afterwards (seeded now or earlier).
    public static func seedIfEmpty(_ dependencies: Stores, now: Date = Date()) async throws -> [Account] {
        let users = dependencies.users
        guard try await users.count() == 0 else {
            var present: [Account] = []
            for person in people where try await users.findWithCredentials(email: person.account.email) != nil {
                present.append(person.account)
            }
            return present
        }
        func seedAudit(_ action: AuditAction, _ type: String) -> AuditDraft {
            AuditDraft(actorID: nil, action: action, resourceType: type, outcome: .success, reason: "demo_seed")
        }
        var organisationIDs: [String: UUID] = [:]
        for entry in organisations {
            guard let finess = FINESSNumber(entry.finess) else { continue }
            var organisation = Organisation(name: entry.name, finess: finess, city: entry.city)
            organisation.street = entry.street
            organisation.postalCode = entry.postalCode
            try await dependencies.organisations.create(organisation, audit: seedAudit(.organisationCreate, "organisation"))
            organisationIDs[entry.name] = organisation.id
        }
        var communityIDs: [String: UUID] = [:]
        for community in communities {
            try await dependencies.communities.create(community)
            communityIDs[community.name] = community.id
        }
        for (name, organisation) in [(south, "Institut Bergonié"), (south, "Centre hospitalier de Pau"), (south, "CHU de Bordeaux"),
                                     (north, "CHU de Poitiers"), (north, "CHU de Bordeaux")] {
            if let community = communityIDs[name], let organisation = organisationIDs[organisation] {
                try await dependencies.communities.addOrganisation(organisation, to: community)
            }
        }
        for entry in registrations {
            guard let community = communityIDs[entry.community] else { continue }
            try await dependencies.communities.setRegistration(
                BoardRegistration(networkName: entry.network, networkID: entry.networkID, boardID: entry.boardID, managerID: organisationIDs[entry.manager]),
                communityID: community, audit: seedAudit(.communityRegistration, "community"))
        }
        var userIDs: [String: UUID] = [:]
        for person in people {
            let user = User(
                email: person.account.email, displayName: person.name, rppsNumber: person.rpps,
                specialtyCode: person.specialtyCode, organisationID: person.organisation.flatMap { organisationIDs[$0] },
                role: person.account.role, isAdmin: person.account.role == .admin
            )
            try await users.create(user, passwordHash: try await dependencies.hashPassword(person.account.password))
            userIDs[person.account.email] = user.id
            for membership in person.memberships {
                if let id = communityIDs[membership.community] {
                    try await dependencies.communities.addMember(userID: user.id, to: id, role: membership.role)
                }
            }
        }
        try await seedPatients(dependencies, communities: communityIDs, organisations: organisationIDs, users: userIDs, now: now)
        return accounts
    }

    static func seedPatients(_ dependencies: Stores, communities: [String: UUID], organisations: [String: UUID], users: [String: UUID], now: Date) async throws {
        guard let southID = communities[south], let northID = communities[north],
              let oncologist = users["oncologue@concerto.test"], let surgeon = users["chirurgienne@concerto.test"],
              let radiotherapist = users["radiotherapeute@concerto.test"], let coordinator = users["coordination@concerto.test"],
              let secretary = users["secretariat@concerto.test"], let bergonie = organisations["Institut Bergonié"] else { return }
        func identity(_ birthName: String, _ firstNames: String, _ date: String, _ sex: AdministrativeSex, place: String, ins: String?, status: IdentityStatus, used: String? = nil) -> PatientIdentity {
            PatientIdentity(
                birthName: birthName, firstNames: firstNames, usedName: used, birthDate: CalendarDate(iso: date)!, sex: sex, birthPlaceCode: place,
                ins: ins.flatMap { try? INS(matricule: $0, kind: .test) }, status: status
            )
        }
        func audit(_ by: UUID) -> AuditDraft {
            AuditDraft(actorID: by, action: .patientCreate, resourceType: "patient", outcome: .success, reason: "demo_seed")
        }
        /// What the identity desk would have recorded: the document checked, then the INS
        /// verified against the test identities (Fixtures/ins-test-identities.json).
        func proofs(_ status: IdentityStatus, document: IdentityDocumentType = .nationalIDCard) -> [IdentityProof] {
            let validated = IdentityProof(status: .validated, documentType: document, verifier: nil, source: .demo, recordedBy: nil)
            switch status {
            case .validated: return [validated]
            case .qualified: return [validated, IdentityProof(status: .qualified, documentType: nil, verifier: "fixtures", source: .demo, recordedBy: nil)]
            case .provisional, .retrieved: return []
            }
        }
        let patients = dependencies.patients, care = dependencies.care
        // Qualified identity, followed by the oncologist, on today's board.
        let marie = try await patients.create(
            identity("DUPONT", "Marie Louise", "1961-05-12", .female, place: "33063", ins: "261053306312304", status: .qualified, used: "MARTIN"),
            in: southID, by: oncologist, careReason: "Oncologue référent", localID: (bergonie, "BGN-004512"), proofs: proofs(.qualified),
            audit: audit(oncologist), at: now)
        // Provisional identity: traits only; the whole Institut Bergonié is in the care team.
        let jean = try await patients.create(
            identity("LAMBERT", "Jean", "1952-03-20", .male, place: "64445", ins: nil, status: .provisional),
            in: southID, by: secretary, careReason: nil, localID: nil, audit: audit(secretary), at: now)
        try await care.addCareLink(patientID: jean, party: .organisation(bergonie), reason: "Prise en charge à l'Institut Bergonié", start: now, end: nil,
                                   declaredBy: oncologist, audit: AuditDraft(actorID: oncologist, action: .careLinkAdd, resourceType: "care_relationship", patientID: jean, outcome: .success, reason: "demo_seed"))
        // Held by both communities; opposes sharing with the northern one.
        let louise = try await patients.create(
            identity("BERNARD", "Louise", "1978-02-14", .female, place: "33063", ins: "278023306304574", status: .qualified),
            in: southID, by: oncologist, careReason: "Oncologue référent", localID: nil, proofs: proofs(.qualified, document: .passport),
            audit: audit(oncologist), at: now)
        try await patients.openCase(patientID: louise, in: northID, by: coordinator, audit: audit(coordinator), at: now)
        try await care.addCareLink(patientID: louise, party: .professional(surgeon), reason: "Avis chirurgical", start: now, end: nil,
                                   declaredBy: surgeon, audit: AuditDraft(actorID: surgeon, action: .careLinkAdd, resourceType: "care_relationship", patientID: louise, outcome: .success, reason: "demo_seed"))
        try await care.recordOpposition(patientID: louise, target: .community(northID), by: coordinator,
                                        audit: AuditDraft(actorID: coordinator, action: .oppositionRecord, resourceType: "opposition", patientID: louise, outcome: .success, reason: "demo_seed"), at: now)
        // Northern community's patient, followed by the surgeon; validated (passport seen), not yet qualified:
        // the identity desk (admin) can verify the INS.
        _ = try await patients.create(
            identity("LEROY", "Paul André", "1945-07-08", .male, place: "86194", ins: "145078619401282", status: .validated),
            in: northID, by: surgeon, careReason: "Chirurgien référent", localID: nil, proofs: proofs(.validated, document: .passport),
            audit: audit(surgeon), at: now)
        // The patient of the public CDA samples (../shared/corpus/cda, test INS): their reports
        // can be uploaded on her fiche RCP.
        _ = try await patients.create(
            identity("PAT-TROIS", "DOMINIQUE MARIE-LOUISE", "1979-03-28", .female, place: "51215", ins: "279035121518989", status: .qualified),
            in: southID, by: oncologist, careReason: "Oncologue référent", localID: nil, proofs: proofs(.qualified),
            audit: audit(oncologist), at: now)
        // A second, provisional record of Marie created in the north: a suspected duplicate for the identity desk.
        _ = try await patients.create(
            identity("DUPONT", "Marie", "1961-05-12", .female, place: "33063", ins: nil, status: .provisional),
            in: northID, by: surgeon, careReason: nil, localID: nil, audit: audit(surgeon), at: now)
        // Today's board in the south: the radiotherapist takes part and sees Marie's case for its window.
        let meeting = UUID()
        // Starts in half an hour: the séance's check-in is open (from an hour before the start).
        let start = now.addingTimeInterval(30 * 60)
        try await dependencies.meetings.create(id: meeting, communityID: southID, title: "RCP thoracique", startsAt: start, endsAt: start.addingTimeInterval(2 * 3600),
                                               place: "Institut Bergonié, salle du conseil", videoLink: "https://visio.concerto.test/rcp-thoracique", deadlineHours: 0)
        for participant in [radiotherapist, coordinator, oncologist] {
            try await dependencies.meetings.addParticipant(userID: participant, to: meeting)
        }
        // A second patient on today's board, followed by the thoracic surgeon: in the live séance,
        // members who are neither in his care team nor checked in see "accès restreint".
        var henri: UUID?
        if let thoracicSurgeon = users["chirurgien@concerto.test"] {
            henri = try await patients.create(
                identity("MOREAU", "Henri", "1956-11-03", .male, place: "33063", ins: nil, status: .provisional),
                in: southID, by: thoracicSurgeon, careReason: "Chirurgien référent", localID: nil, audit: audit(thoracicSurgeon), at: now)
        }
        try await seedWorkflow(dependencies, south: southID, north: northID, meeting: meeting, marie: marie, jean: jean, louise: louise, henri: henri,
                               users: users, now: now)
    }

    /// Fiches for the seeded patients: Marie's on today's board, a past board whose two cases
    /// were decided and validated, and weekly and monthly series scheduling the coming months.
    static func seedWorkflow(
        _ dependencies: Stores, south: UUID, north: UUID, meeting: UUID, marie: UUID, jean: UUID, louise: UUID, henri: UUID?,
        users: [String: UUID], now: Date
    ) async throws {
        guard let oncologist = users["oncologue@concerto.test"], let radiotherapist = users["radiotherapeute@concerto.test"],
              let thoracicSurgeon = users["chirurgien@concerto.test"], let coordinator = users["coordination@concerto.test"] else { return }
        let cases = dependencies.cases, meetings = dependencies.meetings
        func audit(_ action: AuditAction, by user: UUID, patient: UUID? = nil) -> AuditDraft {
            AuditDraft(actorID: user, action: action, resourceType: "case", patientID: patient, outcome: .success, reason: "demo_seed")
        }
        /// The draft opened when the patient was created in the southern community, filled in.
        func fill(_ patient: UUID, _ content: CaseContent, at date: Date) async throws -> UUID? {
            guard let held = try await dependencies.patients.cases(of: patient).first(where: { $0.communityID == south }),
                  let record = try await cases.find(id: held.id) else { return nil }
            try await cases.save(id: held.id, revision: record.revision, content: content, newEdition: false, by: oncologist,
                                 audit: audit(.caseUpdate, by: oncologist, patient: patient), at: date)
            return held.id
        }
        let marieCase = try await fill(marie, CaseContent(
            presentationReason: .initialTreatment, discoveryMode: .symptoms, tumourSiteCode: "C34.1", morphology: "Adénocarcinome (TTF1+)",
            lateralityCode: "24028007", tnm: TNM(cT: "T2a", cN: "N0", cM: "M0", edition: 8), performanceStatusCode: "MED-264",
            history: "Tabagisme sevré (30 PA). HTA.", comorbidities: "BPCO modérée", phaseCode: "MED-268",
            summary: "Nodule du lobe supérieur droit de 28 mm, biopsie : adénocarcinome pulmonaire. TEP : pas d'autre fixation.",
            question: "Lobectomie supérieure droite d'emblée ou traitement néoadjuvant ?"), at: now)
        if let marieCase {
            try await cases.register(id: marieCase, meetingID: meeting, from: [.draft], by: oncologist, audit: audit(.caseRegister, by: oncologist, patient: marie), at: now)
        }
        if let henri, let held = try await dependencies.patients.cases(of: henri).first(where: { $0.communityID == south }),
           let record = try await cases.find(id: held.id) {
            try await cases.save(id: held.id, revision: record.revision, content: CaseContent(
                presentationReason: .initialTreatment, discoveryMode: .symptoms, tumourSiteCode: "C34.3", morphology: "Carcinome épidermoïde",
                lateralityCode: "7771000", tnm: TNM(cT: "T3", cN: "N1", cM: "M0", edition: 8), performanceStatusCode: "MED-240",
                history: "Tabagisme actif (45 PA).", phaseCode: "MED-268", summary: "Masse du lobe inférieur gauche de 55 mm, adénopathie hilaire homolatérale fixante au TEP.",
                question: "Chimio-radiothérapie concomitante ou chirurgie après induction ?"),
                newEdition: false, by: thoracicSurgeon, audit: audit(.caseUpdate, by: thoracicSurgeon, patient: henri), at: now)
            try await cases.register(id: held.id, meetingID: meeting, from: [.draft], by: thoracicSurgeon, audit: audit(.caseRegister, by: thoracicSurgeon, patient: henri), at: now)
        }

        // Last week's board: quorum met, two validated decisions.
        let past = UUID()
        let pastStart = ParisCalendar.instant(ParisCalendar.date(of: now.addingTimeInterval(-7 * 86_400)), LocalTime(hour: 14, minute: 0)!)
        try await meetings.create(id: past, communityID: south, title: "RCP thoracique", startsAt: pastStart, endsAt: pastStart.addingTimeInterval(2 * 3600),
                                  place: "Institut Bergonié, salle du conseil", at: pastStart.addingTimeInterval(-14 * 86_400))
        try await meetings.setChair(meetingID: past, userID: oncologist, audit: audit(.meetingChair, by: coordinator), at: pastStart)
        for (user, specialty) in [(oncologist, "G15_10/SM36"), (radiotherapist, "G15_10/SM37"), (thoracicSurgeon, "G15_10/SM11")] {
            try await meetings.recordAttendance(meetingID: past, member: user, guestName: nil, specialtyCode: specialty, status: .present, by: coordinator,
                                                audit: audit(.meetingAttendance, by: coordinator), at: pastStart)
        }
        let decided: [(UUID, CaseContent, CaseDecision)] = [
            (jean, CaseContent(presentationReason: .initialTreatment, discoveryMode: .screening, tumourSiteCode: "C18.7", morphology: "Adénocarcinome lieberkühnien",
                               tnm: TNM(pT: "T3", pN: "N1a", edition: 8), performanceStatusCode: "MED-240", phaseCode: "MED-268",
                               summary: "Colectomie gauche pour adénocarcinome du sigmoïde, 1 ganglion envahi sur 18.",
                               question: "Chimiothérapie adjuvante ?"),
             CaseDecision(proposalTypes: [.chemotherapy], proposal: "Chimiothérapie adjuvante par FOLFOX, 3 mois.", followsGuidelines: true,
                          trialProposed: false, fileComplete: true, quorumMet: true)),
            (louise, CaseContent(presentationReason: .initialTreatment, discoveryMode: .screening, tumourSiteCode: "C50.4", morphology: "Carcinome canalaire infiltrant",
                                 lateralityCode: "7771000", tnm: TNM(cT: "T1c", cN: "N0", cM: "M0", edition: 8), performanceStatusCode: "MED-240", phaseCode: "MED-268",
                                 summary: "Mammographie de dépistage : lésion de 15 mm du quadrant supéro-externe gauche, RH+ HER2-.",
                                 question: "Chirurgie conservatrice d'emblée ?"),
             CaseDecision(proposalTypes: [.surgery, .radiotherapy], proposal: "Tumorectomie avec ganglion sentinelle, puis radiothérapie du sein.",
                          followsGuidelines: true, trialProposed: true, trialReference: "NCT-DEMO-0042", fileComplete: true, quorumMet: true)),
        ]
        for (patient, content, decision) in decided {
            guard let caseID = try await fill(patient, content, at: pastStart.addingTimeInterval(-5 * 86_400)) else { continue }
            try await cases.register(id: caseID, meetingID: past, from: [.draft], by: oncologist, audit: audit(.caseRegister, by: oncologist, patient: patient),
                                     at: pastStart.addingTimeInterval(-4 * 86_400))
            try await cases.recordDecision(id: caseID, decision: decision, by: oncologist, audit: audit(.caseDecision, by: oncologist, patient: patient),
                                           at: pastStart.addingTimeInterval(3600))
            try await cases.validate(id: caseID, by: oncologist, audit: audit(.caseValidate, by: oncologist, patient: patient), at: pastStart.addingTimeInterval(2 * 3600))
            // Jean's chemotherapy has started: his referring oncologist recorded it.
            if patient == jean {
                try await dependencies.followUps.record(
                    DecisionFollowUp(outcome: .carriedOut, firstTreatmentOn: ParisCalendar.date(of: now.addingTimeInterval(-2 * 86_400)),
                                     carePlanGivenOn: ParisCalendar.date(of: now.addingTimeInterval(-5 * 86_400))),
                    caseID: caseID, revision: 0, by: oncologist, audit: audit(.caseFollowUp, by: oncologist, patient: patient), at: now)
            }
        }

        // Series: every Thursday in the south from next week, the second Tuesday in the north.
        let horizon = ParisCalendar.adding(days: 92, to: ParisCalendar.date(of: now))
        let nextWeek = ParisCalendar.adding(days: 7, to: ParisCalendar.date(of: now))
        _ = try await meetings.createSeries(
            MeetingSeries(communityID: south, title: "RCP thoracique", kind: .organ, organs: ["312419003"], recurrence: .weekly(interval: 1, weekday: 4),
                          firstDate: nextWeek, startTime: LocalTime(hour: 14, minute: 0)!, durationMinutes: 120, place: "Institut Bergonié, salle du conseil",
                          videoLink: "https://visio.concerto.test/rcp-thoracique", deadlineHours: 48, maximumCases: 40,
                          completeness: CompletenessRules([
                              CompletenessItem(.tnmStaged, .required), CompletenessItem(.performanceStatus, .recommended),
                              CompletenessItem(.molecularResults(sites: ["C34"]), .recommended),
                              CompletenessItem(.attested(label: "Consultation d'annonce réalisée"), .recommended),
                          ])),
            by: coordinator, through: horizon, audit: audit(.seriesCreate, by: coordinator), at: now)
        _ = try await meetings.createSeries(
            MeetingSeries(communityID: north, title: "RCP digestive", kind: .organ, organs: ["86762007"], recurrence: .monthly(ordinal: 2, weekday: 2),
                          firstDate: ParisCalendar.date(of: now), startTime: LocalTime(hour: 17, minute: 30)!, durationMinutes: 90, place: "CHU de Poitiers, salle 2",
                          deadlineHours: 72, quorum: QuorumRequirement(minimumSpecialties: 4, requiredDisciplines: [.medicalOncology, .surgery, .radiology, .pathology])),
            by: coordinator, through: horizon, audit: audit(.seriesCreate, by: coordinator), at: now)
        try await seedHistory(dependencies, south: south, north: north, users: users, now: now)
    }
}
