import CDA
import ConcertoCore
import Documents
import Foundation

/// `concerto-bench fiche`: writing a fiche RCP as CDA R2 (issue 7: under 20 ms), for a
/// full fiche (every section, 8 participants, TNM, decision), and reading it back.
enum FicheBench {
    static func sample() throws -> FicheRCPExport {
        let bergonie = FicheRCPExport.Organisation(finess: "330000662", name: "Institut Bergonié")
        func person(_ name: String, _ specialty: String) -> FicheRCPExport.Person {
            FicheRCPExport.Person(rpps: "10100000017", displayName: name, specialtyCode: specialty, specialtyLabel: Specialty.find(code: specialty)?.label,
                                  organisation: bergonie)
        }
        let chair = person("Dr Olivier Oncologue", "G15_10/SM36")
        let attendees = [chair, person("Dr Rita Radiothérapeute", "G15_10/SM37"), person("Dr Hugo Chirurgien", "G15_10/SM11"),
                         person("Dr Paul Pathologiste", "G15_10/SM02"), person("Dr Rose Radiologue", "G15_10/SM44")]
        let identity = PatientIdentity(birthName: "DUPONT", firstNames: "Marie Louise", usedName: "MARTIN", birthDate: CalendarDate(iso: "1961-05-12")!,
                                       sex: .female, birthPlaceCode: "33063", ins: try INS(matricule: "261053306312304", kind: .test), status: .qualified)
        return FicheRCPExport(
            caseID: UUID(), patientID: UUID(), version: 1, generatedAt: Date(), patient: identity, localIDs: [("330000662", "BGN-004512")],
            author: chair, custodian: bergonie, legalAuthenticator: chair, validatedAt: Date(),
            participants: [.init(person: chair, role: .coordinator), .init(person: chair, role: .presenter)]
                + attendees.map { .init(person: $0, role: .quorumMember) },
            meeting: .init(id: UUID(), title: "RCP thoracique", communityName: "RCP Nouvelle-Aquitaine Sud", startsAt: Date(), place: "Salle du conseil",
                           transversal: false),
            content: CaseContent(presentationReason: .initialTreatment, discoveryMode: .screening, tumourSiteCode: "C34.1", morphology: "Adénocarcinome",
                                 lateralityCode: "24028007", tnm: TNM(cT: "T2a", cN: "N0", cM: "M0", pT: "T2a", pN: "N1", edition: 8),
                                 performanceStatusCode: "MED-264", history: String(repeating: "Antécédents détaillés. ", count: 40),
                                 comorbidities: "BPCO", phaseCode: "MED-268", previousTreatments: String(repeating: "Traitement antérieur. ", count: 20),
                                 summary: String(repeating: "Synthèse du cas présenté, examens et résultats. ", count: 60),
                                 question: "Lobectomie d'emblée ou traitement néoadjuvant ?"),
            decision: CaseDecision(proposalTypes: [.surgery, .radiotherapy, .chemotherapy], proposal: String(repeating: "Proposition détaillée. ", count: 30),
                                   followsGuidelines: true, trialProposed: true, trialReference: "NCT-0042", fileComplete: true, quorumMet: true))
    }

    static func run(_ options: Options) throws -> Bool {
        let fiche = try sample()
        var bytes = 0
        for _ in 0..<20 { bytes = FicheRCPWriter.write(fiche).count }
        let clock = ContinuousClock()
        var write: [Double] = [], read: [Double] = []
        for _ in 0..<max(200, options.iterations / 20) {
            var data = Data()
            write.append(milliseconds(clock.measure { data = FicheRCPWriter.write(fiche) }))
            read.append(milliseconds(clock.measure { _ = CDAReader.read(data) }))
        }
        write.sort()
        read.sort()
        print(String(format: "fiche CDA: %d bytes; write p50 %.3f ms, p99 %.3f ms; read back p50 %.3f ms (%d runs)", bytes,
                     percentile(write, 0.5), percentile(write, 0.99), percentile(read, 0.5), write.count))
        let ficheMet = percentile(write, 0.99) < 20
        print("fiche CDA target (< 20 ms): \(ficheMet ? "met" : "NOT met")")

        // The minutes of a 40-case board, rendered to PDF (the route adds the database reads).
        let fiches = try (0..<40).map { index -> FicheRCPExport in
            var fiche = try sample()
            fiche.patient.birthName = "PATIENT\(index)"
            return fiche
        }
        guard let meeting = fiches[0].meeting else { return false }
        let minutes = MeetingMinutes(meeting: meeting, chairName: "Dr Olivier Oncologue",
                                     attendees: fiches[0].participants.map { .init(name: $0.person.displayName, specialty: $0.person.specialtyLabel, status: "présent") },
                                     quorumMet: true, quorumDetail: "5 spécialités présentes sur 3 requises", fiches: fiches)
        var pdfBytes = 0
        var render: [Double] = []
        for run in 0..<11 {
            var data = Data()
            let elapsed = milliseconds(try clock.measure {
                data = try PDFRenderer.render(BoardDocuments.minutes(minutes, documentID: "CR-BENCH", generatedAt: Date()))
            })
            if run > 0 { render.append(elapsed) }
            pdfBytes = data.count
        }
        render.sort()
        print(String(format: "minutes PDF, 40 cases: %d bytes; render p50 %.1f ms, max %.1f ms (10 runs)", pdfBytes, percentile(render, 0.5), render.last ?? 0))
        let minutesMet = (render.last ?? .infinity) < 1000
        print("minutes PDF target (< 1 s): \(minutesMet ? "met" : "NOT met")")
        return ficheMet && minutesMet
    }
}
