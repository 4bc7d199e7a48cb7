import CDA
import ConcertoCore
import ConcertoServices
import ConcertoStore
import Foundation
import HTTPTypes
import Hummingbird
import Mustache

/// CDA documents: upload on a fiche RCP, the document page rendered from the safe
/// narrative, downloads of the original XML and the PDF. Every read goes through
/// `AccessGuard` on the document's patient in the document's community, and is audited.
struct DocumentController: Sendable {
    let documents: DocumentStore
    let importer: DocumentImporter
    let cases: CaseStore
    let patients: PatientStore
    let guardian: AccessGuard
    let renderer: Renderer

    func addRoutes(to group: some RouterMethods<AuthenticatedContext>) {
        group.post(SiteURL.route { id, _ in .caseDocuments(id) }, use: upload)
        group.get(SiteURL.route { id, _ in .document(id) }, use: show)
        group.get(SiteURL.route { id, _ in .documentOriginal(id) }, use: original)
        group.get(SiteURL.route { id, _ in .documentPDF(id) }, use: pdf)
        group.post(SiteURL.route { id, _ in .documentCarePlan(id) }, use: linkCarePlan)
    }

    // MARK: Upload

    /// One line per file of an upload: what happened, in the reader's language (the
    /// CDA reader's own diagnostics stay French), and where to look.
    struct FileResult: Sendable, Encodable {
        let file: String
        let status: String
        let messages: [String]
        let url: String?
    }

    /// The upload's page: a line per file, what became of it.
    struct ImportPage: Sendable, PageModel {
        struct Line: Sendable, PageModel {
            let file, status, label: String
            let url: String?
            let messages: [String]
        }

        let caseURL: String
        let results: [Line]
        let askConfirmation: Bool
    }

    static func result(file: String, _ outcome: DocumentImporter.Outcome, language: AppLanguage) -> FileResult {
        switch outcome {
        case .imported(let id, let superseded, let warnings):
            let note = superseded > 0 ? [Localization.text("document_result_superseded", in: language, ["n": String(superseded)])] : []
            return FileResult(file: file, status: "imported", messages: note + warnings.map { ImportPresentation.text($0, in: language) },
                              url: SiteURL.document(id).path)
        case .alreadyImported(let id):
            return FileResult(file: file, status: "already_imported", messages: [Localization.text("document_result_already", in: language)],
                              url: SiteURL.document(id).path)
        case .refused(let messages):
            return FileResult(file: file, status: "refused", messages: messages.map { ImportPresentation.text($0, in: language) }, url: nil)
        case .needsConfirmation(let traits):
            return FileResult(file: file, status: "needs_confirmation", messages: [
                Localization.text("document_result_traits", in: language, ["traits": ImportPresentation.traits(traits, in: language)]),
            ], url: nil)
        }
    }

    @Sendable func upload(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let caseID = try context.parameters.uuid(.case)
        guard let record = try await cases.find(id: caseID) else { throw AppError.notFound }
        let outcome = try await guardian.require(.writeClinical, patient: record.patientID, community: record.communityID, auditAction: .documentImport,
                                                 resourceType: "case", resourceID: record.id.storageKey, auditAllowed: false, context: context)
        guard let patient = try await patients.find(id: record.patientID) else { throw AppError.notFound }
        let confirmed = context.form?["confirm_traits"] == "1"
        let target = DocumentImporter.Target(patient: patient, communityID: record.communityID, caseID: record.id)
        var results: [FileResult] = []
        for file in context.uploads {
            let audit = context.auditDraft(.documentImport, resourceType: "document", patientID: record.patientID, mode: outcome.decision.mode,
                                           outcome: .success, reason: "upload")
            let imported = try await importer.importDocument(file.data, into: target, confirmedTraits: confirmed, source: .upload, audit: audit)
            results.append(Self.result(file: file.fileName, imported, language: context.language))
        }
        if results.isEmpty {
            results.append(FileResult(file: "", status: "refused", messages: [Localization.text("document_result_none", in: context.language)], url: nil))
        }
        let allFiled = results.allSatisfy { $0.status == "imported" || $0.status == "already_imported" }
        let status: HTTPResponse.Status = allFiled ? .ok : (results.contains { $0.status == "needs_confirmation" } ? .conflict : .unprocessableContent)
        if request.headers[.accept]?.contains("application/json") == true {
            return try Responses.json(["results": results], status: status)
        }
        let pages = PageBuilder(request: request, context: context)
        let page = ImportPage(
            caseURL: SiteURL.caseItem(record.id).path,
            results: results.map { .init(file: $0.file, status: $0.status, label: pages.text("document_status_\($0.status)"), url: $0.url, messages: $0.messages) },
            askConfirmation: results.contains { $0.status == "needs_confirmation" })
        return try renderer.html("document_import", pages.page(page), status: status)
    }

    // MARK: Reading

    struct Loaded: Sendable {
        let record: DocumentRecord
        let outcome: AccessGuard.Outcome
    }

    func load(_ context: AuthenticatedContext, auditAction: AuditAction) async throws -> Loaded {
        let id = try context.parameters.uuid(.document)
        guard let record = try await documents.find(id: id) else {
            _ = try await guardian.audit.record(context.auditDraft(auditAction, resourceType: "document", resourceID: id.storageKey, outcome: .denied, reason: "unknown_document"))
            throw AppError.notFound
        }
        let outcome = try await guardian.require(.readClinical, patient: record.patientID, community: record.communityID, auditAction: auditAction,
                                                 resourceType: "document", resourceID: record.id.storageKey, context: context)
        return Loaded(record: record, outcome: outcome)
    }

    /// Sections flattened in reading order, each with its depth for the heading level.
    static func sectionFields(_ sections: [CDASection], depth: Int = 2) -> [ViewFields] {
        sections.flatMap { section -> [ViewFields] in
            [ViewFields(["title": section.title ?? section.code?.displayName ?? section.code?.code, "code": section.code?.code,
                         "html": section.narrativeHTML, "level": String(min(depth, 6)), "nested": depth > 2 ? true : nil])]
                + sectionFields(section.subsections, depth: depth + 1)
        }
    }

    /// A filed CDA document: header, narrative sections, versions, the care plan it carries, its checks.
    struct DocumentPage: Sendable, PageModel {
        let carePlan: ViewFields?
        let title: String
        let type: String?
        let typeCode, date, version, documentID: String
        let patientName: String?
        let patientURL: String
        let caseURL, authors, custodian, legalAuthenticator: String?
        let studies: [String]
        let hasStudies: Bool
        let tnm: String?
        let sections: [ViewFields]
        let nonXML: String?
        let sha256, bytes: String
        let importedBy: String?
        let importedAt, source: String
        let superseded: String?
        let originalURL: String
        let pdfURL: String?
        let hasVersions: Bool
        let versions: [ViewFields]
        let warnings: [String]
        let hasWarnings: Bool
        let accessMessage: String
    }

    @Sendable func show(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let loaded = try await load(context, auditAction: .documentRead)
        let record = loaded.record
        let pages = PageBuilder(request: request, context: context)
        async let versions = documents.versions(of: record)
        async let patient = patients.find(id: record.patientID)
        guard let bytes = try await documents.content(of: record.id) else { throw AppError.notFound }
        let report = importer.read(bytes)
        let document = report.document
        let isCarePlan = record.carePlanJSON != "[]"
        let candidates = isCarePlan && record.carriesOutCaseID == nil
            ? try await documents.carePlanCandidates(patientID: record.patientID, communityID: record.communityID, notAfter: record.effectiveTime) : []
        let content = DocumentPage(
            carePlan: isCarePlan ? ViewFields([
                "items": CarePlanPresentation.items(record, pages: pages),
                "caseURL": record.carriesOutCaseID.map { SiteURL.caseItem($0).path },
                "action": candidates.isEmpty ? nil : SiteURL.documentCarePlan(record.id).path,
                "candidates": candidates.map { ViewFields(["value": $0.caseID.storageKey,
                                                           "label": pages.text("care_plan_validated_on", ["date": HL7Time.french(iso: $0.validatedOn)])]) },
            ]) : nil,
            title: record.title ?? record.typeLabel ?? record.typeCode, type: record.typeLabel, typeCode: record.typeCode,
            date: HL7Time.french(iso: record.effectiveTime), version: String(record.version), documentID: record.documentKey,
            patientName: try await patient?.identity.displayName, patientURL: SiteURL.patient(record.patientID).path,
            caseURL: record.caseID.map { SiteURL.caseItem($0).path },
            authors: document?.authors.map(\.displayName).filter { !$0.isEmpty }.joined(separator: ", "),
            custodian: document?.custodian?.name,
            legalAuthenticator: document?.legalAuthenticator?.displayName,
            studies: record.studyUIDs, hasStudies: !record.studyUIDs.isEmpty,
            tnm: record.tnm.isEmpty ? nil : ["cT", "cN", "cM", "pT", "pN", "pM"].compactMap { key in record.tnm[key].map { "\(key) \($0)" } }.joined(separator: " · "),
            sections: Self.sectionFields(document?.sections ?? []),
            nonXML: record.mediaType, sha256: record.sha256, bytes: String(record.byteCount),
            importedBy: record.importedByName, importedAt: DisplayFormat.dateTime(iso: record.importedAt),
            source: pages.text("document_source_\(record.source)"),
            superseded: record.supersededBy.map { SiteURL.document($0).path },
            originalURL: SiteURL.documentOriginal(record.id).path, pdfURL: record.hasPDF ? SiteURL.documentPDF(record.id).path : nil,
            hasVersions: try await versions.count > 1,
            versions: try await versions.map { version in
                ViewFields(["version": String(version.version), "date": HL7Time.french(iso: version.effectiveTime), "url": SiteURL.document(version.id).path,
                            "current": version.id == record.id ? true : nil, "superseded": version.supersededBy != nil ? true : nil])
            },
            warnings: report.warnings, hasWarnings: !report.warnings.isEmpty,
            accessMessage: pages.text("access_reason_\(loaded.outcome.decision.reason.rawValue)"))
        return try renderer.html("document", pages.page(content))
    }

    @Sendable func original(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let loaded = try await load(context, auditAction: .documentDownload)
        guard let bytes = try await documents.content(of: loaded.record.id) else { throw AppError.notFound }
        return Responses.download(bytes, type: "application/xml", name: "document-\(loaded.record.id.storageKey).xml")
    }

    @Sendable func pdf(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let loaded = try await load(context, auditAction: .documentDownload)
        guard let bytes = try await documents.content(of: loaded.record.id), let pdf = importer.read(bytes).document?.pdf else { throw AppError.notFound }
        return Responses.download(pdf, type: "application/pdf", name: "document-\(loaded.record.id.storageKey).pdf")
    }

    /// A physician says which of the patient's validated fiches RCP a care plan carries out
    /// (when several precede it); the fiche must be one of those.
    @Sendable func linkCarePlan(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let id = try context.parameters.uuid(.document)
        guard let record = try await documents.find(id: id), record.carePlanJSON != "[]" else { throw AppError.notFound }
        let outcome = try await guardian.require(.writeClinical, patient: record.patientID, community: record.communityID, auditAction: .documentCarePlanLink,
                                                 resourceType: "document", resourceID: record.id.storageKey, auditAllowed: false, context: context)
        let candidates = try await documents.carePlanCandidates(patientID: record.patientID, communityID: record.communityID, notAfter: record.effectiveTime)
        guard let caseID = context.form?["case"].flatMap(UUID.init(storageKey:)), candidates.contains(where: { $0.caseID == caseID }) else {
            throw AppError.badRequest
        }
        let items = (try? JSONDecoder().decode([CarePlanItem].self, from: Data(record.carePlanJSON.utf8))) ?? []
        try await documents.linkCarePlan(documentID: record.id, caseID: caseID, treatmentsStarted: items.treatmentsStarted, by: context.user.id, audit: context.auditDraft(
            .documentCarePlanLink, resourceType: "document", resourceID: record.id.storageKey, patientID: record.patientID,
            mode: outcome.decision.mode, outcome: .success, reason: caseID.storageKey))
        return context.sessions.redirect(to: SiteURL.document(record.id), flash: .success, "flash_care_plan_linked")
    }
}
