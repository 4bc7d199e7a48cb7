import CDA
import ConcertoCore
import ConcertoStore
import Foundation

/// Gathers what a fiche RCP export says from the stores (patient, people with RPPS and
/// specialty, the meeting and who attended) and writes it. Shared by the case page's
/// download and `concerto export fiche`; the caller checks access and audits.
public struct FicheExporter: Sendable {
    let cases: CaseStore
    let patients: PatientStore
    let meetings: MeetingStore
    let users: UserStore
    let organisations: OrganisationStore
    let communities: CommunityStore

    public init(cases: CaseStore, patients: PatientStore, meetings: MeetingStore, users: UserStore, organisations: OrganisationStore,
                communities: CommunityStore) {
        self.cases = cases
        self.patients = patients
        self.meetings = meetings
        self.users = users
        self.organisations = organisations
        self.communities = communities
    }

    public enum Problem: Error, Equatable {
        case unknownCase
        /// Only a validated fiche is exported: its proposal is the board's final word.
        case notValidated
    }

    /// The CDA R2 document of a validated fiche (version = the fiche's edition).
    public func cda(of record: CaseRecord, at now: Date = Date()) async throws -> Data {
        FicheRCPWriter.write(try await export(record, at: now))
    }

    public func export(_ record: CaseRecord, at now: Date = Date()) async throws -> FicheRCPExport {
        guard record.status == .validated, record.decision != nil else { throw Problem.notValidated }
        guard let patient = try await patients.find(id: record.patientID) else { throw Problem.unknownCase }
        var organisationCache: [UUID: FicheRCPExport.Organisation] = [:]
        func organisation(_ id: UUID?) async throws -> FicheRCPExport.Organisation? {
            guard let id else { return nil }
            if let cached = organisationCache[id] { return cached }
            guard let found = try await organisations.find(id: id) else { return nil }
            let value = FicheRCPExport.Organisation(finess: found.finess, name: found.name)
            organisationCache[id] = value
            return value
        }
        func person(_ userID: UUID?, name: String, specialty: String? = nil) async throws -> FicheRCPExport.Person {
            let user = try await userID.asyncMap { try await users.find(id: $0) } ?? nil
            let code = specialty ?? user?.specialtyCode
            return FicheRCPExport.Person(rpps: user?.rppsNumber, displayName: user?.displayName ?? name, specialtyCode: code,
                                         specialtyLabel: code.flatMap { Specialty.find(code: $0)?.label }, organisation: try await organisation(user?.organisationID))
        }
        let meeting = try await record.meetingID.asyncMap { try await meetings.find(id: $0) } ?? nil
        let community = try await communities.find(id: record.communityID)
        let validator = try await person(record.validatedByID, name: record.validatedByName ?? "")
        var participants: [FicheRCPExport.Participant] = []
        if let meeting {
            if let chair = meeting.chairID {
                participants.append(.init(person: try await person(chair, name: meeting.chairName ?? ""), role: .coordinator))
            }
            if let presenter = record.createdByID {
                participants.append(.init(person: try await person(presenter, name: record.createdByName ?? ""), role: .presenter))
            }
            for row in try await meetings.attendance(of: meeting.id) where row.status == .present {
                // Members with a specialty make the quorum; guests and others attend.
                let counts = !row.isGuest && row.specialtyCode != nil
                participants.append(.init(person: try await person(row.userID, name: row.name, specialty: row.specialtyCode),
                                          role: counts ? .quorumMember : .otherParticipant))
            }
        }
        let custodian = validator.organisation ?? FicheRCPExport.Organisation(finess: nil, name: record.communityName)
        return FicheRCPExport(
            caseID: record.id, patientID: record.patientID, version: record.edition, generatedAt: now, patient: patient.identity,
            localIDs: try await patients.localIdentifiers(of: patient.id), author: validator, custodian: custodian, legalAuthenticator: validator,
            validatedAt: record.validatedAt, participants: participants,
            meeting: meeting.map { meeting in
                FicheRCPExport.Meeting(id: meeting.id, title: meeting.title, communityName: meeting.communityName, startsAt: meeting.startsAt,
                                       place: meeting.place, transversal: community?.kind == .transversal)
            },
            content: record.content, decision: record.decision)
    }
}
