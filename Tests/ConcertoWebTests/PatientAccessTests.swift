import ConcertoCore
import ConcertoServices
import ConcertoStore
import ConcertoTestSupport
@testable import ConcertoWeb
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

/// Two communities, their people and patients, for the access tests.
struct AccessWorld {
    let south: Community, north: Community
    let organisation: Organisation
    let southPhysician: User, northPhysician: User, southSecretary: User, southCoordinator: User, southColleague: User, admin: User
    let southPatient: UUID, northPatient: UUID

    static func make(_ d: AppDependencies) async throws -> AccessWorld {
        var organisation = Organisation(name: "Institut Bergonié", finess: FINESSNumber("330000662")!, city: "Bordeaux")
        organisation.street = "229 cours de l'Argonne"
        organisation.postalCode = "33076"
        try await d.organisations.create(organisation, audit: nil)
        let south = Community(name: "Sud", region: "NA"), north = Community(name: "Nord", region: "NA", kind: .organBased)
        for c in [south, north] {
            try await d.communities.create(c)
            // What the fiche's header needs, so the workflow tests can validate (the gate has its own test).
            try await d.communities.setRegistration(
                BoardRegistration(networkName: "Onco-NA", networkID: "TEST-RRC", boardID: "TEST-RCP-\(c.name)", managerID: organisation.id),
                communityID: c.id, audit: AuditDraft(actorID: nil, action: .communityRegistration, resourceType: "community", outcome: .success))
        }
        /// A role follows a profession: physicians (with an RPPS number) sit as physicians,
        /// secretaries and coordinators have those professions.
        func person(_ email: String, _ role: CommunityRole?, in community: Community, admin: Bool = false) async throws -> User {
            let profession: ProfessionalRole = admin ? .admin : role == .secretary ? .secretary : role == .coordinator ? .coordinator : .physician
            let user = User(email: email, displayName: email, rppsNumber: profession == .physician ? TestIdentifiers.rpps(Int.random(in: 1..<999_999_999)) : nil,
                            organisationID: organisation.id, role: profession, isAdmin: admin)
            try await d.users.create(user, passwordHash: try await d.passwords.hash(testPassword))
            if let role { try await d.communities.addMember(userID: user.id, to: community.id, role: role) }
            return user
        }
        let southPhysician = try await person("sud@t.fr", .physician, in: south)
        let southColleague = try await person("collegue@t.fr", .physician, in: south)
        let northPhysician = try await person("nord@t.fr", .physician, in: north)
        let southSecretary = try await person("secr@t.fr", .secretary, in: south)
        let southCoordinator = try await person("coord@t.fr", .coordinator, in: south)
        let admin = try await person("admin@t.fr", nil, in: south, admin: true)
        let identity = PatientIdentity(birthName: "DUPONT", firstNames: "Marie", birthDate: CalendarDate(iso: "1961-05-12")!, sex: .female,
                                       ins: try INS(matricule: "261053306312304", kind: .test), status: .qualified)
        let draft = AuditDraft(actorID: nil, action: .patientCreate, resourceType: "patient", outcome: .success)
        let southPatient = try await d.patients.create(identity, in: south.id, by: southPhysician.id, careReason: "Référent", localID: nil, audit: draft)
        var other = identity
        other.birthName = "LEROY"
        other.ins = nil
        other.status = .provisional
        let northPatient = try await d.patients.create(other, in: north.id, by: northPhysician.id, careReason: "Référent", localID: nil, audit: draft)
        return AccessWorld(south: south, north: north, organisation: organisation, southPhysician: southPhysician, northPhysician: northPhysician,
                           southSecretary: southSecretary, southCoordinator: southCoordinator, southColleague: southColleague, admin: admin,
                           southPatient: southPatient, northPatient: northPatient)
    }

    /// Every route that names a patient, with how to call it.
    static func patientRoutes(_ patient: UUID, item: UUID = UUID()) -> [(method: HTTPRequest.Method, path: String)] {
        [
            (.get, SiteURL.patient(patient).path),
            (.post, SiteURL.patientCases(patient).path),
            (.post, SiteURL.patientCareTeam(patient).path),
            (.post, SiteURL.patientCareLinkEnd(patient, link: item).path),
            (.post, SiteURL.patientOppositions(patient).path),
            (.post, SiteURL.patientOppositionWithdraw(patient, opposition: item).path),
            (.post, SiteURL.patientLocalIDs(patient).path),
            (.get, SiteURL.patientEmergencyAccess(patient).path),
            (.post, SiteURL.patientEmergencyAccess(patient).path),
            (.get, SiteURL.patientAccessReport(patient).path),
            (.get, SiteURL.patientAccessReportCSV(patient).path),
            (.post, SiteURL.patientIdentityValidate(patient).path),
            (.post, SiteURL.patientIdentityQualify(patient).path),
        ]
    }
}

func denials(_ d: AppDependencies, patient: UUID, actor: UUID) async throws -> [AuditEvent] {
    try await d.audit.events(matching: .init(patientIDs: [patient], actorID: actor)).map(\.event).filter { $0.outcome == "denied" }
}

@Suite struct PatientAccessTests {
    /// Every patient-bearing route answers 404 to a user of another community, as for a
    /// patient that does not exist, and records the denial.
    @Test func anotherCommunitysPatientIsNotFoundOnEveryRouteAndAudited() async throws {
        try await withTestApp { browser, d in
            let world = try await AccessWorld.make(d)
            try await browser.logIn(email: "nord@t.fr")
            try await browser.get("/")
            let routes = AccessWorld.patientRoutes(world.southPatient)
            // The list covers every route the router has under /patients/{patient}.
            let tested = Set(AccessWorld.patientRoutes(UUID(), item: UUID()).map { "\($0.method) \(routePattern($0.path))" })
            let registered = Set(buildRouter(d).routes.map { "\($0.method) \($0.path)" }.filter { $0.contains("/patients/{patient}") })
            #expect(!registered.isEmpty)
            #expect(tested == registered)
            for (index, route) in routes.enumerated() {
                let response = route.method == .get
                    ? try await browser.get(route.path)
                    : try await browser.post(route.path, form: [("reason", "x"), ("target", "community:\(world.north.id.storageKey)"), ("ipp", "X"),
                                                                ("community", world.north.id.storageKey), ("justification", String(repeating: "x", count: 30)),
                                                                ("reason_code", "autre")])
                #expect(response.status == .notFound, "\(route.method) \(route.path)")
                #expect(try await denials(d, patient: world.southPatient, actor: world.northPhysician.id).count == index + 1, "\(route.path)")
            }
            // A patient id that exists nowhere looks the same.
            let unknown = UUID()
            #expect(try await browser.get(SiteURL.patient(unknown).path).status == .notFound)
            #expect(try await denials(d, patient: unknown, actor: world.northPhysician.id).first?.reason == "unknown_patient")
            // Nothing was changed for the southern patient.
            #expect(try await d.care.oppositions(of: world.southPatient).isEmpty)
            #expect(try await d.patients.cases(of: world.southPatient).count == 1)
            #expect(try await d.patients.localIDs(of: world.southPatient).isEmpty)
            // Malformed ids are not found either.
            #expect(try await browser.get("/patients/not-a-uuid").status == .notFound)
            #expect(try await browser.get(SiteURL.community(world.south.id).path).status == .notFound)
        }
    }

    @Test func theCareTeamSeesClinicalDataAndOthersAreToldWhyNot() async throws {
        try await withTestApp { browser, d in
            let world = try await AccessWorld.make(d)
            try await browser.logIn(email: "sud@t.fr")
            let page = try await browser.get(SiteURL.patient(world.southPatient).path)
            #expect(page.status == .ok)
            #expect(page.text.contains("data-test=\"clinical\""))
            #expect(page.text.contains("vous faites partie de l&#39;équipe de soins"))
            #expect(page.text.contains("261053306312304"))

            let secretary = browser.fresh()
            try await secretary.logIn(email: "secr@t.fr")
            let identityOnly = try await secretary.get(SiteURL.patient(world.southPatient).path)
            #expect(identityOnly.status == .ok)
            #expect(identityOnly.text.contains("DUPONT"))
            #expect(!identityOnly.text.contains("data-test=\"clinical\""))
            #expect(identityOnly.text.contains("Accès aux données cliniques refusé"))
            #expect(identityOnly.text.contains("ni dans l&#39;équipe de soins"))
            let events = try await d.audit.events(matching: .init(patientIDs: [world.southPatient], actorID: world.southSecretary.id)).map(\.event)
            #expect(events.contains { $0.resourceType == "patient_identity" && $0.outcome == "allowed" })
            #expect(events.contains { $0.resourceType == "patient_clinical" && $0.outcome == "denied" && $0.reason == "outside_care_scope" })
            // Declaring oneself in the care team is a physician's act.
            let refused = try await secretary.post(SiteURL.patientCareTeam(world.southPatient).path, form: [("reason", "Suivi"), ("party", "professional")])
            #expect(refused.status == .forbidden)
            #expect(refused.text.contains("réservée aux médecins"))
        }
    }

    @Test func provisionalIdentitiesShowTraitsNotTheINS() async throws {
        try await withTestApp { browser, d in
            let world = try await AccessWorld.make(d)
            var identity = try #require(try await d.patients.find(id: world.southPatient)).identity
            identity.status = .validated
            identity.ins = try INS(matricule: "145078619401282", kind: .test) // one INS, one record
            let id = try await d.patients.create(identity, in: world.south.id, by: world.southPhysician.id, careReason: "r", localID: nil,
                                                 audit: AuditDraft(actorID: nil, action: .patientCreate, resourceType: "patient", outcome: .success))
            try await browser.logIn(email: "sud@t.fr")
            let page = try await browser.get(SiteURL.patient(id).path)
            #expect(!page.text.contains("145078619401282"))
            #expect(page.text.contains("Identité validée"))
            #expect(page.text.contains("12/05/1961"))
        }
    }

    @Test func breakTheGlassNeedsAJustificationThenOpensAccessForAFewHoursAndIsReported() async throws {
        try await withTestApp { browser, d in
            let world = try await AccessWorld.make(d)
            try await browser.logIn(email: "collegue@t.fr")
            let path = SiteURL.patient(world.southPatient).path
            let before = try await browser.get(path)
            #expect(before.text.contains("data-test=\"emergency-link\""))
            try await browser.get(SiteURL.patientEmergencyAccess(world.southPatient).path)
            let tooShort = try await browser.post(SiteURL.patientEmergencyAccess(world.southPatient).path, form: [("reason_code", "urgence_vitale"), ("justification", "vite")])
            #expect(tooShort.status == .badRequest)
            #expect(tooShort.text.contains("20 caractères"))
            #expect(try await d.care.accessFacts(userID: world.southColleague.id, patientID: world.southPatient)?.grants.isEmpty == true)
            let granted = try await browser.post(SiteURL.patientEmergencyAccess(world.southPatient).path,
                                                 form: [("reason_code", "urgence_vitale"), ("justification", "Hospitalisée cette nuit aux urgences, avis requis")])
            #expect(granted.status == .seeOther)
            let after = try await browser.follow(granted)
            #expect(after.text.contains("data-test=\"clinical\""))
            #expect(after.text.contains("bris de glace"))
            let facts = try #require(try await d.care.accessFacts(userID: world.southColleague.id, patientID: world.southPatient))
            let grant = try #require(facts.grants.first)
            #expect(abs(grant.expiresAt.timeIntervalSince(grant.grantedAt) - 4 * 3600) < 2)
            let events = try await d.audit.events(matching: .init(patientIDs: [world.southPatient], actorID: world.southColleague.id)).map(\.event)
            #expect(events.contains { $0.action == "emergency_access.grant" && $0.mode == "bris_de_glace" && $0.outcome == "success" })
            #expect(events.contains { $0.action == "patient.read" && $0.mode == "bris_de_glace" && $0.reason == "break_the_glass" })
            // The community's coordinators see it.
            let coordinator = browser.fresh()
            try await coordinator.logIn(email: "coord@t.fr")
            let community = try await coordinator.get(SiteURL.community(world.south.id).path)
            #expect(community.text.contains("Hospitalisée cette nuit aux urgences"))
        }
    }

    @Test func anOppositionBlocksClinicalAccessAndBreakTheGlassUnlessConfiguredAndConfirmed() async throws {
        for overrideAllowed in [false, true] {
            try await withTestApp(configure: { $0.emergencyAccessMayOverrideOpposition = overrideAllowed }) { browser, d in
                let world = try await AccessWorld.make(d)
                let secretary = browser.fresh()
                try await secretary.logIn(email: "secr@t.fr")
                try await secretary.get(SiteURL.patient(world.southPatient).path)
                let recorded = try await secretary.post(SiteURL.patientOppositions(world.southPatient).path, form: [("target", "community:\(world.south.id.storageKey)")])
                #expect(recorded.status == .seeOther)
                try await browser.logIn(email: "sud@t.fr")
                let page = try await browser.get(SiteURL.patient(world.southPatient).path)
                #expect(!page.text.contains("data-test=\"clinical\""))
                #expect(page.text.contains("le patient s&#39;est opposé au partage"))
                #expect(page.text.contains("data-test=\"emergency-link\"") == overrideAllowed)
                try await browser.get(SiteURL.patientEmergencyAccess(world.southPatient).path)
                let form: [(String, String)] = [("reason_code", "urgence_vitale"), ("justification", "Urgence vitale, patiente inconsciente au bloc")]
                let first = try await browser.post(SiteURL.patientEmergencyAccess(world.southPatient).path, form: form)
                if overrideAllowed {
                    #expect(first.status == .ok)
                    #expect(first.text.contains("confirm_override"))
                    let confirmed = try await browser.post(SiteURL.patientEmergencyAccess(world.southPatient).path, form: form + [("confirm_override", "1")])
                    #expect(confirmed.status == .seeOther)
                    let after = try await browser.follow(confirmed)
                    #expect(after.text.contains("malgré l&#39;opposition"))
                    // The trail keeps a marker; the access report words it in the reader's language.
                    let coordinator = browser.fresh()
                    try await coordinator.logIn(email: "coord@t.fr")
                    let report = try await coordinator.get(SiteURL.patientAccessReport(world.southPatient).path)
                    #expect(report.status == .ok)
                    #expect(report.text.contains("urgence_vitale (opposition levée): Urgence vitale"))
                    #expect(!report.text.contains("opposition_override"))
                } else {
                    #expect(first.status == .badRequest)
                    #expect(first.text.contains("ne peut pas lever"))
                    #expect(try await d.care.accessFacts(userID: world.southPhysician.id, patientID: world.southPatient)?.grants.isEmpty == true)
                }
                // Withdrawing the opposition (a physician of the care team, with the reason)
                // gives the care team its access back; the secretary may not lift it.
                let opposition = try #require(try await d.care.oppositions(of: world.southPatient).first)
                try await secretary.get(SiteURL.patient(world.southPatient).path)
                #expect(try await secretary.post(SiteURL.patientOppositionWithdraw(world.southPatient, opposition: opposition.id).path,
                                                 form: [("reason", "La patiente revient sur son choix")]).status == .forbidden)
                try await browser.get(SiteURL.patient(world.southPatient).path)
                #expect(try await browser.post(SiteURL.patientOppositionWithdraw(world.southPatient, opposition: opposition.id).path,
                                               form: [("reason", "La patiente revient sur son choix")]).status == .seeOther)
                #expect(try await browser.get(SiteURL.patient(world.southPatient).path).text.contains("data-test=\"clinical\""))
            }
        }
    }

    @Test func patientRoutesRefuseAMissingCSRFTokenAndChangeNothing() async throws {
        try await withTestApp { browser, d in
            let world = try await AccessWorld.make(d)
            try await browser.logIn(email: "sud@t.fr")
            try await browser.get("/")
            for route in AccessWorld.patientRoutes(world.southPatient) where route.method == .post {
                let response = try await browser.post(route.path, form: [("target", "community:\(world.south.id.storageKey)"), ("ipp", "X"), ("reason", "r")], csrf: .none)
                #expect(response.status == .forbidden, "\(route.path)")
            }
            #expect(try await browser.post(SiteURL.patients.path, form: [("birth_name", "X")], csrf: .none).status == .forbidden)
            #expect(try await d.care.oppositions(of: world.southPatient).isEmpty)
            #expect(try await d.patients.localIDs(of: world.southPatient).isEmpty)
            #expect(try await d.care.careLinks(of: world.southPatient).count == 1)
        }
    }

    @Test func creatingAPatientOffersTheExistingRecordAndChecksTheINSKey() async throws {
        try await withTestApp { browser, d in
            let world = try await AccessWorld.make(d)
            try await browser.logIn(email: "sud@t.fr")
            try await browser.get(SiteURL.newPatient.path)
            let base: [(String, String)] = [("community", world.south.id.storageKey), ("birth_name", "Dupont"), ("first_names", "Marie Anne"),
                                            ("birth_date", "1961-05-12"), ("sex", "F"), ("identity_status", "PROV")]
            let wrongKey = try await browser.post(SiteURL.patients.path, form: base + [("ins_matricule", "261053306312399"), ("ins_kind", "test")])
            #expect(wrongKey.status == .badRequest)
            #expect(wrongKey.text.contains("La clé du matricule INS est incorrecte"))
            let offered = try await browser.post(SiteURL.patients.path, form: base)
            #expect(offered.status == .conflict)
            #expect(offered.text.contains(SiteURL.patient(world.southPatient).path))
            #expect(try await d.patients.matches(for: PatientIdentity(birthName: "DUPONT", firstNames: "Marie", birthDate: CalendarDate(iso: "1961-05-12")!, sex: .female, status: .provisional)).count == 1)
            let created = try await browser.post(SiteURL.patients.path, form: base + [("confirm_new", "1"), ("ipp", "IPP-77")])
            #expect(created.status == .seeOther)
            let page = try await browser.follow(created)
            #expect(page.text.contains("DUPONT Marie"))
            #expect(page.text.contains("IPP-77"))
            #expect(page.text.contains("data-test=\"clinical\""))
            // A matching record in another community is not revealed.
            let north = browser.fresh()
            try await north.logIn(email: "nord@t.fr")
            try await north.get(SiteURL.newPatient.path)
            let northCreate = try await north.post(SiteURL.patients.path, form: [("community", world.north.id.storageKey), ("birth_name", "DUPONT"),
                                                                                 ("first_names", "Marie"), ("birth_date", "1961-05-12"), ("sex", "F")])
            #expect(northCreate.status == .seeOther)
            // ...and a community the user is not in cannot be chosen.
            let foreign = try await north.post(SiteURL.patients.path, form: [("community", world.south.id.storageKey), ("birth_name", "X"),
                                                                             ("first_names", "Y"), ("birth_date", "1970-01-01"), ("sex", "M")])
            #expect(foreign.status == .badRequest)
        }
    }

    @Test func theAccessReportListsWhoReadTheRecordAsHTMLAndCSV() async throws {
        try await withTestApp { browser, d in
            let world = try await AccessWorld.make(d)
            try await browser.logIn(email: "sud@t.fr")
            try await browser.get(SiteURL.patient(world.southPatient).path)
            #expect(try await browser.get(SiteURL.patientAccessReport(world.southPatient).path).status == .forbidden)
            let coordinator = browser.fresh()
            try await coordinator.logIn(email: "coord@t.fr")
            let report = try await coordinator.get(SiteURL.patientAccessReport(world.southPatient).path)
            #expect(report.status == .ok)
            #expect(report.text.contains("sud@t.fr"))
            #expect(report.text.contains("Consultation du dossier"))
            let csv = try await coordinator.get(SiteURL.patientAccessReportCSV(world.southPatient).path)
            #expect(csv.headers[.contentType] == "text/csv; charset=utf-8")
            #expect(csv.text.hasPrefix("\u{FEFF}date;professionnel;organisation;action;mode;resultat;motif"))
            #expect(csv.text.contains(";sud@t.fr;Institut Bergonié;Consultation du dossier;normal;autorisé;"))
        }
    }

    @Test func csvFieldsAreQuotedAndFormulasNeutralised() {
        #expect(AuditPresentation.csvField("a;b") == "\"a;b\"")
        #expect(AuditPresentation.csvField("=HYPERLINK(\"x\")") == "\"'=HYPERLINK(\"\"x\"\")\"")
        #expect(AuditPresentation.csvField("simple") == "simple")
    }

    @Test func loginsAndFailuresAreAudited() async throws {
        try await withTestApp { browser, d in
            let world = try await AccessWorld.make(d)
            try await browser.logIn(email: "sud@t.fr", password: "wrong password!")
            try await browser.logIn(email: "nobody@t.fr", password: "wrong password!")
            try await browser.logIn(email: "sud@t.fr")
            let events = try await d.audit.events(matching: .init()).map(\.event)
            #expect(events.contains { $0.action == "login.failure" && $0.actorID == world.southPhysician.id.storageKey && $0.reason == "wrong_password" })
            #expect(events.contains { $0.action == "login.failure" && $0.actorID == nil && $0.reason == "unknown_account" })
            #expect(events.contains { $0.action == "login.success" && $0.actorID == world.southPhysician.id.storageKey })
            #expect(events.filter { $0.action.hasPrefix("login") }.allSatisfy { ($0.requestID ?? "").isEmpty == false })
            let traced = try await browser.get("/", headers: [HTTPField.Name("X-Request-Id")!: "proxy-42"])
            #expect(traced.status == .ok)
            try await browser.get(SiteURL.patient(world.southPatient).path, headers: [HTTPField.Name("X-Request-Id")!: "proxy-43"])
            let read = try await d.audit.events(matching: .init(patientIDs: [world.southPatient], actorID: world.southPhysician.id)).first
            #expect(read?.event.requestID == "proxy-43")
            #expect(try await d.audit.verify().firstBreak == nil)
        }
    }
}

@Suite struct CommunityAndAdminTests {
    @Test func coordinatorsInviteApproveAndSuspendMembersAndEveryChangeIsAudited() async throws {
        try await withTestApp { browser, d in
            let world = try await AccessWorld.make(d)
            let newcomer = try await createUser(d, email: "nouveau@t.fr", name: "Nouveau")
            try await browser.logIn(email: "coord@t.fr")
            let path = SiteURL.community(world.south.id).path
            try await browser.get(path)
            #expect(try await browser.post(SiteURL.communityMembers(world.south.id).path, form: [("email", "inconnu@t.fr"), ("role", "physician")]).status == .badRequest)
            #expect(try await browser.post(SiteURL.communityMembers(world.south.id).path, form: [("email", "nouveau@t.fr"), ("role", "observer")]).status == .seeOther)
            // The invitee accepts from the dashboard.
            let invitee = browser.fresh()
            try await invitee.logIn(email: "nouveau@t.fr")
            #expect(try await invitee.get("/").text.contains("data-test=\"accept-invitation\""))
            #expect(try await invitee.post(SiteURL.communityAccept(world.south.id).path, form: []).status == .seeOther)
            #expect(try await d.communities.membership(userID: newcomer.id, in: world.south.id)?.status == .active)
            // An observer does not record oppositions.
            try await invitee.get(SiteURL.patient(world.southPatient).path)
            #expect(try await invitee.post(SiteURL.patientOppositions(world.southPatient).path, form: [("target", "community:\(world.south.id.storageKey)")]).status == .forbidden)
            try await browser.get(path)
            #expect(try await browser.post(SiteURL.communityMemberSuspend(world.south.id, user: newcomer.id).path, form: []).status == .seeOther)
            #expect(try await d.communities.membership(userID: newcomer.id, in: world.south.id)?.status == .suspended)
            // Suspended: the community's patients are out of reach.
            #expect(try await invitee.get(SiteURL.patient(world.southPatient).path).status == .notFound)
            // A physician cannot manage members; nobody outside sees the community.
            let physician = browser.fresh()
            try await physician.logIn(email: "sud@t.fr")
            try await physician.get(path)
            #expect(try await physician.post(SiteURL.communityMemberApprove(world.south.id, user: newcomer.id).path, form: []).status == .forbidden)
            let actions = try await d.audit.events(matching: .init(action: nil)).map(\.event.action)
            for action in ["community.member.invite", "community.member.accept", "community.member.suspend"] { #expect(actions.contains(action)) }
            // The community audit page filters by action.
            let audit = try await browser.get(SiteURL.communityAudit(world.south.id).path + "?action=community.member.suspend")
            #expect(audit.status == .ok)
            #expect(audit.text.contains("<td>Membre suspendu</td>"))
            #expect(!audit.text.contains("<td>Invitation acceptée</td>"))
            let byEmail = try await browser.get(SiteURL.communityAudit(world.south.id).path + "?user=nouveau%40t.fr")
            #expect(byEmail.text.contains("<td>Invitation acceptée</td>"))
            #expect(!byEmail.text.contains("<td>Membre suspendu</td>"))
        }
    }

    @Test func adminsAddOrganisationsWithAValidFINESSAndMergeDuplicates() async throws {
        try await withTestApp { browser, d in
            let world = try await AccessWorld.make(d)
            try await browser.logIn(email: "sud@t.fr")
            #expect(try await browser.get(SiteURL.adminOrganisations.path).status == .forbidden)
            let admin = browser.fresh()
            try await admin.logIn(email: "admin@t.fr")
            try await admin.get(SiteURL.adminOrganisations.path)
            let bad = try await admin.post(SiteURL.adminOrganisations.path, form: [("name", "CH Pau"), ("finess", "640780418"), ("city", "Pau")])
            #expect(bad.status == .badRequest)
            #expect(bad.text.contains("FINESS invalide"))
            #expect(try await admin.post(SiteURL.adminOrganisations.path, form: [("name", "CH Pau"), ("finess", "640780417"), ("city", "Pau")]).status == .seeOther)
            #expect(try await admin.post(SiteURL.adminOrganisations.path, form: [("name", "Bis"), ("finess", "640780417"), ("city", "Pau")]).status == .conflict)
            #expect(try await d.organisations.all().count == 2)

            var duplicate = try #require(try await d.patients.find(id: world.southPatient)).identity
            duplicate.ins = nil
            duplicate.status = .provisional
            let copy = try await d.patients.create(duplicate, in: world.north.id, by: world.northPhysician.id, careReason: nil, localID: nil,
                                                   audit: AuditDraft(actorID: nil, action: .patientCreate, resourceType: "patient", outcome: .success))
            let merge = try await admin.get(SiteURL.adminPatientMerge.path)
            #expect(merge.text.contains("data-test=\"merge-pair\""))
            let merged = try await admin.post(SiteURL.adminPatientMerge.path, form: [("survivor", world.southPatient.storageKey), ("merged", copy.storageKey), ("reason", "Même personne (INSi)")])
            #expect(merged.status == .seeOther)
            #expect(try await d.patients.find(id: copy)?.mergedInto == world.southPatient)
            // The northern physician now reaches the record through the merged case; the old id redirects.
            let north = browser.fresh()
            try await north.logIn(email: "nord@t.fr")
            let redirect = try await north.get(SiteURL.patient(copy).path)
            #expect(redirect.status == .seeOther)
            #expect(redirect.headers[.location] == SiteURL.patient(world.southPatient).path)
            #expect(try await d.audit.events(matching: .init(action: "patient.merge")).count == 1)
            #expect(try await admin.get(SiteURL.adminAudit.path + "?action=patient.merge").text.contains("Fusion de dossiers"))
        }
    }

    @Test func adminsCreateCommunitiesAndCoordinatorsAddMemberOrganisations() async throws {
        try await withTestApp { browser, d in
            let world = try await AccessWorld.make(d)
            try await browser.logIn(email: "coord@t.fr")
            #expect(try await browser.get(SiteURL.adminCommunities.path).status == .forbidden)
            let admin = browser.fresh()
            try await admin.logIn(email: "admin@t.fr")
            try await admin.get(SiteURL.adminCommunities.path)
            #expect(try await admin.post(SiteURL.adminCommunities.path, form: [("name", "Sud"), ("region", "NA"), ("kind", "recours")]).status == .conflict)
            #expect(try await admin.post(SiteURL.adminCommunities.path, form: [("name", "RCP Sarcomes"), ("region", "NA"), ("kind", "rare"), ("coordinator", "inconnu@t.fr")]).status == .badRequest)
            let created = try await admin.post(SiteURL.adminCommunities.path, form: [("name", "RCP Sarcomes"), ("region", "Nouvelle-Aquitaine"), ("kind", "rare"), ("coordinator", "coord@t.fr")])
            #expect(created.status == .seeOther)
            let community = try #require(try await d.communities.all().first { $0.name == "RCP Sarcomes" })
            #expect(community.kind == .rareCancers)
            #expect(try await d.communities.membership(userID: world.southCoordinator.id, in: community.id)?.administersCommunity == true)
            // Its coordinator adds a member organisation.
            let page = try await browser.get(SiteURL.community(community.id).path)
            #expect(page.text.contains("Institut Bergonié (Bordeaux)"))
            #expect(try await browser.post(SiteURL.communityOrganisations(community.id).path, form: [("organisation", world.organisation.id.storageKey)]).status == .seeOther)
            #expect(try await d.communities.organisations(of: community.id).map(\.id) == [world.organisation.id])
            #expect(try await browser.post(SiteURL.communityOrganisations(community.id).path, form: [("organisation", UUID().storageKey)]).status == .badRequest)
            // A physician of another community does not even see it.
            let physician = browser.fresh()
            try await physician.logIn(email: "nord@t.fr")
            try await physician.get("/")
            #expect(try await physician.post(SiteURL.communityOrganisations(community.id).path, form: [("organisation", world.organisation.id.storageKey)]).status == .notFound)
            let actions = try await d.audit.events(matching: .init()).map(\.event.action)
            #expect(actions.contains("community.create") && actions.contains("community.organisation.add"))
        }
    }

    @Test func adminsCreateProfessionalsWithAValidRPPSAndACuratedSpecialty() async throws {
        try await withTestApp { browser, d in
            let world = try await AccessWorld.make(d)
            try await browser.logIn(email: "sud@t.fr")
            #expect(try await browser.get(SiteURL.adminProfessionals.path).status == .forbidden)
            let admin = browser.fresh()
            try await admin.logIn(email: "admin@t.fr")
            let page = try await admin.get(SiteURL.adminProfessionals.path)
            #expect(page.text.contains("<optgroup label=\"Radiothérapie\">"))
            let form: [(String, String)] = [("name", "Dr Nouvelle"), ("email", "nouvelle@t.fr"), ("role", "physician"),
                                            ("specialty", "G15_10/SM45"), ("organisation", world.organisation.id.storageKey), ("password", "un mot de passe long")]
            let bad = try await admin.post(SiteURL.adminProfessionals.path, form: form + [("rpps", "10101010106")])
            #expect(bad.status == .badRequest)
            #expect(bad.text.contains("Numéro RPPS invalide"))
            let unknownSpecialty = try await admin.post(SiteURL.adminProfessionals.path, form: [("name", "X"), ("email", "x@t.fr"), ("role", "physician"), ("specialty", "SM99"), ("password", "un mot de passe long")])
            #expect(unknownSpecialty.text.contains("Spécialité inconnue"))
            #expect(try await admin.post(SiteURL.adminProfessionals.path, form: form + [("rpps", "10101010105")]).status == .seeOther)
            let created = try #require(try await d.users.findWithCredentials(email: "nouvelle@t.fr")?.user)
            #expect(created.rppsNumber == "10101010105" && created.specialtyCode == "G15_10/SM45" && created.organisationID == world.organisation.id)
            #expect(try await admin.get(SiteURL.adminProfessionals.path).text.contains("Dr Nouvelle"))
            #expect(try await admin.post(SiteURL.adminProfessionals.path, form: form).status == .conflict)
            #expect(try await d.audit.events(matching: .init(action: "professional.create")).count == 1)
        }
    }

    @Test func theDemoShowsEveryPartOfTheTrustLayer() async throws {
        try await TestDatabase.withFreshURL { url in
            let dependencies = try await AppDependencies.make(testConfiguration(url), logger: TestDatabase.quietLogger)
            _ = try await DemoData.seedIfEmpty(dependencies)
            let communities = try await dependencies.communities.all()
            #expect(communities.count == 2)
            var statuses: Set<IdentityStatus> = [], oppositions = 0, careLinks = 0
            for community in communities {
                for patient in try await dependencies.patients.patients(inCommunity: community.id) {
                    statuses.insert(patient.identity.status)
                    oppositions += try await dependencies.care.oppositions(of: patient.id).count
                    careLinks += try await dependencies.care.careLinks(of: patient.id).count
                }
            }
            #expect(statuses.isSuperset(of: [.qualified, .provisional]))
            #expect(oppositions >= 2) // counted from each community holding the patient
            #expect(careLinks >= 3)
            #expect(try await dependencies.patients.suspectedDuplicates().count == 1)
            #expect(try await dependencies.audit.verify().firstBreak == nil)
            await dependencies.database.shutdown()
        }
    }
}
