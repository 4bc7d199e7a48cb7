import CDA
import ConcertoCore
import ConcertoStore
import Documents
import Foundation
import NIOPosix

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

    /// The CDA R2 document of a validated fiche (version = the fiche's edition), with its PDF
    /// copy embedded when asked.
    public func cda(of record: CaseRecord, embedPDF: Bool = false, at now: Date = Date()) async throws -> Data {
        var fiche = try await export(record, at: now)
        if embedPDF {
            let unembedded = fiche
            fiche.pdf = try await Self.offloaded { try Self.pdf(of: unembedded, at: now) }
        }
        return FicheRCPWriter.write(fiche)
    }

    /// The printed fiche of a validated case.
    public func pdf(of record: CaseRecord, at now: Date = Date()) async throws -> Data {
        let fiche = try await export(record, at: now)
        return try await Self.offloaded { try Self.pdf(of: fiche, at: now) }
    }

    static func pdf(of fiche: FicheRCPExport, at now: Date) throws -> Data {
        try PDFRenderer.render(BoardDocuments.fiche(fiche, documentID: "FRCP \(fiche.documentID)", generatedAt: now))
    }

    /// PDF layout costs tens to hundreds of milliseconds of CPU: it runs on the blocking
    /// thread pool, not on the cooperative threads that serve every other request.
    static func offloaded<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await NIOThreadPool.singleton.runIfActive(work)
    }

    /// The meeting's minutes: attendance, quorum and every case on the agenda (decided or not).
    public func minutes(of meeting: MeetingRecord, at now: Date = Date()) async throws -> MeetingMinutes {
        let attendance = try await meetings.attendance(of: meeting.id)
        let quorum = meeting.quorum(given: attendance)
        var fiches: [FicheRCPExport] = []
        for item in try await meetings.agenda(of: meeting.id) {
            guard let record = try await cases.find(id: item.caseID) else { continue }
            fiches.append(try await export(record, requireValidated: false, at: now))
        }
        let community = try await communities.find(id: meeting.communityID)
        let missing = quorum.missingDisciplines.map(\.frenchLabel)
        return MeetingMinutes(
            meeting: FicheRCPExport.Meeting(id: meeting.id, title: meeting.title, communityName: meeting.communityName, startsAt: meeting.startsAt,
                                            place: meeting.place, transversal: community?.kind == .transversal),
            chairName: meeting.chairName,
            attendees: attendance.map { row in
                MeetingMinutes.Attendee(name: row.name + (row.isGuest ? " (invité)" : ""),
                                        specialty: row.specialtyCode.flatMap { Specialty.find(code: $0)?.label } ?? row.specialtyCode,
                                        status: row.status.frenchLabel)
            },
            quorumMet: quorum.isMet,
            quorumDetail: "\(quorum.distinctSpecialties) spécialité(s) présente(s) sur \(quorum.minimum) requises"
                + (missing.isEmpty ? "" : " ; manquent : " + missing.joined(separator: ", ")),
            fiches: fiches)
    }

    public func minutesPDF(of meeting: MeetingRecord, at now: Date = Date()) async throws -> Data {
        let minutes = try await minutes(of: meeting, at: now)
        return try await Self.offloaded {
            try PDFRenderer.render(BoardDocuments.minutes(minutes, documentID: "CR-RCP \(meeting.id.storageKey.prefix(8))", generatedAt: now))
        }
    }

    /// Every validated fiche as CDA (with its PDF copy) and PDF, and the minutes PDF.
    public func minutesArchive(of meeting: MeetingRecord, at now: Date = Date()) async throws -> Data {
        let minutes = try await minutes(of: meeting, at: now)
        return try await Self.offloaded { try Self.archive(minutes, meetingID: meeting.id, at: now) }
    }

    static func archive(_ minutes: MeetingMinutes, meetingID: UUID, at now: Date) throws -> Data {
        var archive = ZipArchive()
        archive.add("compte-rendu.pdf", try PDFRenderer.render(BoardDocuments.minutes(minutes, documentID: "CR-RCP \(meetingID.storageKey.prefix(8))",
                                                                                        generatedAt: now)), modified: now)
        for (index, var fiche) in minutes.fiches.enumerated() where fiche.validatedAt != nil && fiche.decision != nil {
            let name = String(format: "%02d-", index + 1) + Self.fileName(fiche.patient.displayName)
            let pdf = try Self.pdf(of: fiche, at: now)
            fiche.pdf = pdf
            archive.add("\(name)/fiche-rcp.pdf", pdf, modified: now)
            archive.add("\(name)/fiche-rcp.xml", FicheRCPWriter.write(fiche), modified: now)
        }
        return archive.data
    }

    static func fileName(_ text: String) -> String {
        String(text.folding(options: [.diacriticInsensitive], locale: Locale(identifier: "fr_FR"))
            .map { $0.isLetter || $0.isNumber ? $0 : "-" }).lowercased()
    }

    public func export(_ record: CaseRecord, requireValidated: Bool = true, at now: Date = Date()) async throws -> FicheRCPExport {
        if requireValidated { guard record.status == .validated, record.decision != nil else { throw Problem.notValidated } }
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
        let validator = try await person(record.validatedByID ?? record.createdByID, name: record.validatedByName ?? record.createdByName ?? "")
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
        let registration = try await self.registration(communityID: record.communityID, seriesID: meeting?.seriesID)
        return FicheRCPExport(
            caseID: record.id, patientID: record.patientID, version: record.edition, generatedAt: now, patient: patient.identity,
            localIDs: try await patients.localIdentifiers(of: patient.id), author: validator, custodian: custodian,
            legalAuthenticator: record.validatedAt == nil ? nil : validator,
            validatedAt: record.validatedAt, participants: participants,
            meeting: meeting.map { meeting in
                FicheRCPExport.Meeting(id: meeting.id, title: meeting.title, communityName: meeting.communityName, startsAt: meeting.startsAt,
                                       place: meeting.place, transversal: community?.kind == .transversal, registration: registration)
            },
            content: record.content, decision: record.decision)
    }

    /// The header's national identifiers for a meeting of the community, when all are
    /// recorded (`FicheHeaderCheck` says what is missing).
    func registration(communityID: UUID, seriesID: UUID?) async throws -> FicheRCPExport.Registration? {
        let recorded = try await communities.registration(communityID: communityID, seriesID: seriesID)
        guard let networkID = recorded.networkID, let boardID = recorded.boardID, let managerID = recorded.managerID,
              let manager = try await organisations.find(id: managerID) else { return nil }
        return FicheRCPExport.Registration(networkID: networkID, boardID: boardID,
                                           manager: .init(finess: manager.finess, name: manager.name, address: manager.postalAddress))
    }

}
