import ConcertoCore
import ConcertoStore
import ConcertoTestSupport
import Foundation
import SQLKit
import Testing

/// The policy over facts loaded from the real tables, on SQLite and PostgreSQL.
@Suite struct AccessFactsMatrixTests {
    @Test func factsFromTheDatabaseGiveTheDecisionTheRuleGives() async throws {
        try await TestDatabase.withMigrated { database in
            let now = Date(timeIntervalSince1970: (Date().timeIntervalSince1970).rounded(.down))
            let t = PolicyScenario.window(now)
            let users = UserStore(database: database), communities = CommunityStore(database: database)
            let organisations = OrganisationStore(database: database), patients = PatientStore(database: database)
            let care = CareStore(database: database), meetings = MeetingStore(database: database)
            let organisation = Organisation(name: "CHU", finess: FINESSNumber("330781196")!, city: "Bordeaux")
            try await organisations.create(organisation, audit: nil)
            let community = Community(name: "Sud", region: "NA"), other = Community(name: "Nord", region: "NA")
            for c in [community, other] { try await communities.create(c) }

            // One account per kind of membership, all in the same organisation.
            let kinds: [(PolicyScenario.Membership, Bool)] = [
                (.coordinator, false), (.physician, false), (.secretary, false), (.observer, false),
                (.invited, false), (.suspended, false), (.none, false), (.none, true),
            ]
            var accounts: [(membership: PolicyScenario.Membership, admin: Bool, id: UUID)] = []
            for (index, (membership, admin)) in kinds.enumerated() {
                let user = User(email: "u\(index)@t.fr", displayName: "U\(index)", rppsNumber: TestIdentifiers.rpps(100 + index), organisationID: organisation.id, role: .physician, isAdmin: admin)
                try await users.create(user, passwordHash: "x")
                let scenario = PolicyScenario(membership: membership, care: .none, opposition: .none, meeting: .none, grant: .none, platformAdmin: admin, overrideAllowed: false)
                switch membership {
                case .none: break
                case .invited: try await communities.addMember(userID: user.id, to: community.id, role: .physician, status: .invited)
                case .suspended: try await communities.addMember(userID: user.id, to: community.id, role: .physician, status: .suspended)
                default: try await communities.addMember(userID: user.id, to: community.id, role: scenario.role!)
                }
                accounts.append((membership, admin, user.id))
            }
            let soonMeeting = UUID(), pastMeeting = UUID(), otherMeeting = UUID()
            try await meetings.create(id: soonMeeting, communityID: community.id, title: "RCP", startsAt: now.addingTimeInterval(6 * 3600), endsAt: now.addingTimeInterval(8 * 3600))
            try await meetings.create(id: pastMeeting, communityID: community.id, title: "RCP passée", startsAt: now.addingTimeInterval(-3 * 86_400), endsAt: now.addingTimeInterval(-3 * 86_400 + 7200))
            try await meetings.create(id: otherMeeting, communityID: other.id, title: "RCP Nord", startsAt: now, endsAt: now.addingTimeInterval(7200))
            for account in accounts {
                for meeting in [soonMeeting, pastMeeting, otherMeeting] { try await meetings.addParticipant(userID: account.id, to: meeting) }
            }
            let creator = accounts[1].id
            func draft(_ action: AuditAction) -> AuditDraft { AuditDraft(actorID: creator, action: action, resourceType: "test", outcome: .success) }

            var checked = 0
            for careCase in [PolicyScenario.Care.none, .professional, .organisation, .ended, .notYetStarted] {
                for opposition in PolicyScenario.Opposition.allCases {
                    for meeting in PolicyScenario.Meeting.allCases {
                        for grant in [PolicyScenario.Grant.none, .active, .expired, .activeOverridingOpposition] {
                            let identity = PatientIdentity(birthName: "P", firstNames: "X", birthDate: CalendarDate(iso: "1960-01-01")!, sex: .female, status: .provisional)
                            let patient = try await patients.create(identity, in: community.id, by: creator, careReason: nil, localID: nil, audit: draft(.patientCreate), at: now)
                            if meeting == .otherCommunity { try await patients.openCase(patientID: patient, in: other.id, by: creator, audit: draft(.patientUpdate), at: now) }
                            for account in accounts {
                                switch careCase {
                                case .professional: try await care.addCareLink(patientID: patient, party: .professional(account.id), reason: "r", start: t.pastStart, end: nil, declaredBy: creator, audit: draft(.careLinkAdd))
                                case .ended: try await care.addCareLink(patientID: patient, party: .professional(account.id), reason: "r", start: t.pastStart, end: t.recent, declaredBy: creator, audit: draft(.careLinkAdd))
                                case .notYetStarted: try await care.addCareLink(patientID: patient, party: .professional(account.id), reason: "r", start: t.soon, end: nil, declaredBy: creator, audit: draft(.careLinkAdd))
                                default: break
                                }
                                switch grant {
                                case .active: try await care.recordEmergencyGrant(EmergencyGrant(grantedAt: t.recent, expiresAt: t.soon), patientID: patient, userID: account.id, communityID: community.id, reasonCode: "autre", justification: "j", audit: draft(.emergencyAccessGrant))
                                case .expired: try await care.recordEmergencyGrant(EmergencyGrant(grantedAt: now.addingTimeInterval(-5 * 3600), expiresAt: t.recent), patientID: patient, userID: account.id, communityID: community.id, reasonCode: "autre", justification: "j", audit: draft(.emergencyAccessGrant))
                                case .activeOverridingOpposition: try await care.recordEmergencyGrant(EmergencyGrant(grantedAt: t.recent, expiresAt: t.soon, overridesOpposition: true), patientID: patient, userID: account.id, communityID: community.id, reasonCode: "autre", justification: "j", audit: draft(.emergencyAccessGrant))
                                case .none: break
                                }
                            }
                            if careCase == .organisation {
                                try await care.addCareLink(patientID: patient, party: .organisation(organisation.id), reason: "r", start: t.pastStart, end: t.futureEnd, declaredBy: creator, audit: draft(.careLinkAdd))
                            }
                            switch opposition {
                            case .thisCommunity: try await care.recordOpposition(patientID: patient, target: .community(community.id), by: creator, audit: draft(.oppositionRecord), at: t.pastStart)
                            case .userOrganisation: try await care.recordOpposition(patientID: patient, target: .organisation(organisation.id), by: creator, audit: draft(.oppositionRecord), at: t.recent)
                            case .otherCommunity: try await care.recordOpposition(patientID: patient, target: .community(other.id), by: creator, audit: draft(.oppositionRecord), at: t.pastStart)
                            case .withdrawn:
                                try await care.recordOpposition(patientID: patient, target: .community(community.id), by: creator, audit: draft(.oppositionRecord), at: t.pastStart)
                                let id = try #require(try await care.oppositions(of: patient).first?.id)
                                #expect(try await care.withdrawOpposition(id: id, patientID: patient, by: creator, reason: "Patient revenu sur son choix", audit: draft(.oppositionWithdraw), at: t.recent))
                            case .none: break
                            }
                            switch meeting {
                            case .inWindow: try await meetings.addToAgenda(patientID: patient, meetingID: soonMeeting, position: 1)
                            case .past: try await meetings.addToAgenda(patientID: patient, meetingID: pastMeeting, position: 1)
                            case .otherCommunity: try await meetings.addToAgenda(patientID: patient, meetingID: otherMeeting, position: 1)
                            case .none: break
                            }
                            for account in accounts {
                                let facts = try #require(try await care.accessFacts(userID: account.id, patientID: patient, at: now))
                                for overrideAllowed in [false, true] {
                                    var scenario = PolicyScenario(membership: account.membership, care: careCase, opposition: opposition, meeting: meeting,
                                                                  grant: grant, platformAdmin: account.admin, overrideAllowed: overrideAllowed)
                                    if meeting == .otherCommunity { scenario.meeting = .otherCommunity }
                                    let policy = AccessPolicy(breakTheGlassMayOverrideOpposition: overrideAllowed)
                                    for action in AccessAction.allCases {
                                        let decision = policy.decide(action, facts, community: meeting == .otherCommunity ? community.id : nil, at: now)
                                        let expected = scenario.expected(action)
                                        #expect(decision.allowed == expected.allowed && decision.reason == expected.reason && decision.mode == expected.mode,
                                                "\(scenario) \(action): got \(decision.reason.rawValue)")
                                        checked += 1
                                    }
                                }
                            }
                        }
                    }
                }
            }
            #expect(checked == 5 * 5 * 4 * 4 * accounts.count * 2 * AccessAction.allCases.count)
        }
    }

    @Test func anUnknownOrMergedPatientHasNoFacts() async throws {
        try await TestDatabase.withMigrated { database in
            let care = CareStore(database: database)
            let users = UserStore(database: database)
            let user = User(email: "a@b.fr", displayName: "A", rppsNumber: TestIdentifiers.rpps(1), role: .physician)
            try await users.create(user, passwordHash: "x")
            #expect(try await care.accessFacts(userID: user.id, patientID: UUID()) == nil)
        }
    }
}
