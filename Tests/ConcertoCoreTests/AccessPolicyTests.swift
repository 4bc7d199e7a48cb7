import ConcertoCore
import ConcertoTestSupport
import Foundation
import Testing

@Suite struct AccessPolicyTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)
    let user = UUID(), community = UUID(), otherCommunity = UUID(), organisation = UUID(), otherOrganisation = UUID()

    /// The facts of a scenario, built in memory.
    func facts(_ scenario: PolicyScenario) -> AccessFacts {
        let t = PolicyScenario.window(now)
        var facts = AccessFacts(userID: user, isPlatformAdmin: scenario.platformAdmin, isPhysician: scenario.profession == .physician,
                                organisationID: organisation, caseCommunities: [community])
        switch scenario.membership {
        case .none: break
        case .invited: facts.memberships[community] = (.physician, .invited)
        case .suspended: facts.memberships[community] = (.physician, .suspended)
        default: facts.memberships[community] = (scenario.role!, .active)
        }
        switch scenario.care {
        case .none: break
        case .professional: facts.careLinks = [CareLink(party: .professional(user), start: t.pastStart)]
        case .organisation: facts.careLinks = [CareLink(party: .organisation(organisation), start: t.pastStart, end: t.futureEnd)]
        case .ended: facts.careLinks = [CareLink(party: .professional(user), start: t.pastStart, end: t.recent)]
        case .notYetStarted: facts.careLinks = [CareLink(party: .professional(user), start: t.soon)]
        }
        switch scenario.opposition {
        case .none: break
        case .thisCommunity: facts.oppositions = [OppositionScope(target: .community(community), recordedAt: t.pastStart)]
        case .userOrganisation: facts.oppositions = [OppositionScope(target: .organisation(organisation), recordedAt: t.recent)]
        case .otherCommunity: facts.oppositions = [OppositionScope(target: .community(otherCommunity), recordedAt: t.pastStart)]
        case .withdrawn: facts.oppositions = [OppositionScope(target: .community(community), recordedAt: t.pastStart, withdrawnAt: t.recent)]
        }
        switch scenario.meeting {
        case .none: break
        case .inWindow: facts.meetings = [MeetingParticipation(communityID: community, startsAt: now.addingTimeInterval(6 * 3600), endsAt: now.addingTimeInterval(8 * 3600))]
        case .past: facts.meetings = [MeetingParticipation(communityID: community, startsAt: now.addingTimeInterval(-3 * 86_400), endsAt: now.addingTimeInterval(-3 * 86_400 + 7200))]
        case .otherCommunity: facts.meetings = [MeetingParticipation(communityID: otherCommunity, startsAt: now, endsAt: now.addingTimeInterval(7200))]
        }
        switch scenario.grant {
        case .none: break
        case .active: facts.grants = [EmergencyGrant(grantedAt: t.recent, expiresAt: t.soon)]
        case .expired: facts.grants = [EmergencyGrant(grantedAt: now.addingTimeInterval(-5 * 3600), expiresAt: t.recent)]
        case .activeOverridingOpposition: facts.grants = [EmergencyGrant(grantedAt: t.recent, expiresAt: t.soon, overridesOpposition: true)]
        }
        return facts
    }

    /// Every combination of role and membership, care relationship, opposition, meeting
    /// participation, break-the-glass, platform admin and configuration, for every action.
    @Test func everyCombinationGetsTheDecisionTheRuleGives() {
        var checked = 0
        for scenario in PolicyScenario.all {
            let policy = AccessPolicy(breakTheGlassMayOverrideOpposition: scenario.overrideAllowed)
            let facts = facts(scenario)
            for action in AccessAction.allCases {
                let decision = policy.decide(action, facts, at: now)
                let expected = scenario.expected(action)
                // Plain comparisons, an issue recorded per mismatch: 201,600 `#expect`s cost
                // seconds of CPU that the rest of the suite's timing tests share.
                if !(decision.allowed == expected.allowed && decision.reason == expected.reason && decision.mode == expected.mode) {
                    Issue.record("\(scenario) \(action): got \(decision.reason.rawValue), expected \(expected)")
                }
                if decision.allowed, action != .readAdministrative || !scenario.platformAdmin || scenario.role != nil,
                   decision.reason != .platformAdministration, decision.communityID != community {
                    Issue.record("\(scenario) \(action): allowed through \(String(describing: decision.communityID)), expected the case's community")
                }
                checked += 1
            }
        }
        #expect(checked == PolicyScenario.all.count * AccessAction.allCases.count)
    }

    @Test func anOppositionToOneCommunityLeavesAccessThroughAnother() {
        var facts = AccessFacts(userID: user, isPhysician: true, organisationID: organisation, caseCommunities: [community, otherCommunity])
        facts.memberships = [community: (.physician, .active), otherCommunity: (.physician, .active)]
        facts.careLinks = [CareLink(party: .professional(user), start: now.addingTimeInterval(-60))]
        facts.oppositions = [OppositionScope(target: .community(community), recordedAt: now.addingTimeInterval(-60))]
        let policy = AccessPolicy()
        let decision = policy.decide(.readClinical, facts, at: now)
        #expect(decision.allowed && decision.communityID == otherCommunity)
        // A write on the opposed community's case is refused.
        #expect(policy.decide(.writeClinical, facts, community: community, at: now).reason == .opposition)
        #expect(policy.decide(.writeClinical, facts, community: otherCommunity, at: now).allowed)
    }

    @Test func aMeetingOpensAccessOnlyForItsWindow() {
        var facts = AccessFacts(userID: user, memberships: [community: (.physician, .active)], caseCommunities: [community])
        let start = now.addingTimeInterval(3 * 86_400)
        facts.meetings = [MeetingParticipation(communityID: community, startsAt: start, endsAt: start.addingTimeInterval(7200))]
        let policy = AccessPolicy(meetingLeadTime: .seconds(86_400), meetingTrailTime: .seconds(86_400))
        #expect(!policy.decide(.readClinical, facts, at: start.addingTimeInterval(-86_401)).allowed)
        #expect(policy.decide(.readClinical, facts, at: start.addingTimeInterval(-86_400)).reason == .meetingParticipant)
        #expect(policy.decide(.readClinical, facts, at: start.addingTimeInterval(7200 + 86_399)).allowed)
        #expect(!policy.decide(.readClinical, facts, at: start.addingTimeInterval(7200 + 86_400)).allowed)
    }

    @Test func breakTheGlassRulesAskForAJustificationAndRespectOppositions() {
        let rules = EmergencyAccessRules()
        let closed = AccessPolicy()
        let open = AccessPolicy(breakTheGlassMayOverrideOpposition: true)
        let outside = AccessDecision.deny(.outsideCareScope)
        let opposed = AccessDecision.deny(.opposition)
        let justification = "Hospitalisé en urgence, avis oncologique requis"
        #expect(rules.grant(justification: "trop court", reasonCode: "urgence_vitale", confirmedOverride: false, current: outside, requesterIsPhysician: true, policy: closed, at: now) == .failure(.justificationTooShort))
        #expect(rules.grant(justification: justification, reasonCode: nil, confirmedOverride: false, current: outside, requesterIsPhysician: true, policy: closed, at: now) == .failure(.reasonCodeMissing))
        #expect(rules.grant(justification: justification, reasonCode: "bidon", confirmedOverride: false, current: outside, requesterIsPhysician: true, policy: closed, at: now) == .failure(.reasonCodeMissing))
        let grant = try? rules.grant(justification: justification, reasonCode: "urgence_vitale", confirmedOverride: false, current: outside, requesterIsPhysician: true, policy: closed, at: now).get()
        #expect(grant == EmergencyGrant(grantedAt: now, expiresAt: now.addingTimeInterval(4 * 3600), overridesOpposition: false))
        #expect(rules.grant(justification: justification, reasonCode: "urgence_vitale", confirmedOverride: true, current: opposed, requesterIsPhysician: true, policy: closed, at: now) == .failure(.oppositionCannotBeOverridden))
        #expect(rules.grant(justification: justification, reasonCode: "urgence_vitale", confirmedOverride: false, current: opposed, requesterIsPhysician: true, policy: open, at: now) == .failure(.confirmationRequired))
        #expect((try? rules.grant(justification: justification, reasonCode: "urgence_vitale", confirmedOverride: true, current: opposed, requesterIsPhysician: true, policy: open, at: now).get())?.overridesOpposition == true)
        #expect(rules.grant(justification: justification, reasonCode: "autre", confirmedOverride: false, current: .allow(.careTeam), requesterIsPhysician: true, policy: closed, at: now) == .failure(.notNeeded))
        #expect(rules.grant(justification: justification, reasonCode: "autre", confirmedOverride: false, current: .deny(.notInCommunity), requesterIsPhysician: true, policy: closed, at: now) == .failure(.notNeeded))
        #expect(EmergencyAccessRules(duration: .seconds(3600)).grant(justification: justification, reasonCode: "autre", confirmedOverride: false, current: outside, requesterIsPhysician: true, policy: closed, at: now)
            == .success(EmergencyGrant(grantedAt: now, expiresAt: now.addingTimeInterval(3600))))
        // Break-the-glass is a physician's act (a secretary could use it before).
        #expect(rules.grant(justification: justification, reasonCode: "urgence_vitale", confirmedOverride: false, current: outside,
                            requesterIsPhysician: false, policy: closed, at: now) == .failure(.physicianOnly))
    }
}

@Suite struct AuditEncodingTests {
    func event(_ change: (inout AuditEvent) -> Void = { _ in }) -> AuditEvent {
        var event = AuditEvent(sequence: 1, recordedAt: "2026-11-29T10:00:00.000Z", actorID: "a", organisationID: nil, action: "patient.read",
                               resourceType: "patient", resourceID: "p", patientID: "p", mode: "normal", outcome: "allowed", reason: "care_team",
                               clientAddress: "127.0.0.1", requestID: "r", previousHash: AuditEvent.genesisHash, hash: "")
        change(&event)
        return event
    }

    @Test func everyFieldChangesTheEncoding() {
        let base = event().canonicalEncoding(keyed: true)
        let changes: [(inout AuditEvent) -> Void] = [
            { $0.sequence = 2 }, { $0.recordedAt = "2026-11-29T10:00:00.001Z" }, { $0.actorID = "b" }, { $0.organisationID = "o" },
            { $0.action = "patient.create" }, { $0.resourceType = "case" }, { $0.resourceID = nil }, { $0.patientID = "q" },
            { $0.mode = "bris_de_glace" }, { $0.outcome = "denied" }, { $0.reason = nil }, { $0.clientAddress = "::1" },
            { $0.requestID = nil }, { $0.previousHash = String(repeating: "1", count: 64) },
        ]
        for change in changes { #expect(event(change).canonicalEncoding(keyed: true) != base) }
        // The stored hash is not part of what is hashed.
        #expect(event { $0.hash = "x" }.canonicalEncoding(keyed: true) == base)
        // A keyed link never encodes like a plain one.
        #expect(event().canonicalEncoding(keyed: false) != base)
    }

    @Test func fieldBoundariesCannotBeShifted() {
        let a = event { $0.resourceType = "ab"; $0.resourceID = "c" }
        let b = event { $0.resourceType = "a"; $0.resourceID = "bc" }
        #expect(a.canonicalEncoding(keyed: true) != b.canonicalEncoding(keyed: true))
        let empty = event { $0.reason = "" }
        let absent = event { $0.reason = nil }
        #expect(empty.canonicalEncoding(keyed: true) != absent.canonicalEncoding(keyed: true))
    }
}
