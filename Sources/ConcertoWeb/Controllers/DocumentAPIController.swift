import CDA
import ConcertoCore
import ConcertoServices
import ConcertoStore
import Foundation
import HTTPTypes
import Hummingbird

/// `POST /api/v1/documents` for hospital systems: a bearer token names the community;
/// the body is the CDA document (`application/xml`) or a multipart form with `file`
/// parts. The patient is the case's (`case` parameter) or found by INS among the
/// community's patients. Idempotent on the document id. Answers JSON.
/// A token of an organisation trusted for identities also qualifies the identity a
/// document names, when its INS and traits are the record's (RNIV: that hospital's
/// identity desk verified them with the national service).
struct DocumentAPIController: Sendable {
    let documents: DocumentStore
    let importer: DocumentImporter
    let cases: CaseStore
    let patients: PatientStore
    let audit: AuditLog
    let maxBytes: Int

    func addRoutes(to router: some RouterMethods<AppRequestContext>) {
        router.post(SiteURL.route(.apiDocuments), use: post)
    }

    struct Answer: Encodable {
        let file: String?
        let status: String
        let documentId: String?
        let url: String?
        let errors: [String]
        let warnings: [String]
        /// With a token trusted for identities: `qualified`, or why not (`not_qualified:…`).
        var identity: String? = nil
    }

    static func answer(_ status: HTTPResponse.Status, _ code: String, _ errors: [String]) throws -> Response {
        try Responses.json(Answer(file: nil, status: code, documentId: nil, url: nil, errors: errors, warnings: []), status: status)
    }

    @Sendable func post(_ request: Request, context: AppRequestContext) async throws -> Response {
        var request = request
        let language = AppLanguage.negotiate(preference: nil, acceptLanguage: request.headers[.acceptLanguage])
        guard let authorization = request.headers[.authorization], authorization.lowercased().hasPrefix("bearer "),
              let token = try await documents.token(secret: String(authorization.dropFirst(7)).trimmingCharacters(in: .whitespaces)) else {
            var response = try Self.answer(.unauthorized, "unauthorized", [Localization.text("document_api_unauthorized", in: language)])
            response.headers[.wwwAuthenticate] = "Bearer"
            return response
        }
        let contentType = request.headers[.contentType]?.lowercased() ?? ""
        let files: [(name: String?, data: Data)]
        var fields: [String: String] = [:]
        do {
            if contentType.hasPrefix("application/xml") || contentType.hasPrefix("text/xml") {
                files = [(nil, Data(buffer: try await request.collectBody(upTo: maxBytes)))]
            } else if contentType.hasPrefix("multipart/form-data") {
                let body = try MultipartBody(contentType: request.headers[.contentType] ?? "", body: try await request.collectBody(upTo: maxBytes * 3))
                files = body.files.map { ($0.fileName, $0.data) }
                fields = body.fields
            } else {
                return try Self.answer(.unsupportedMediaType, "unsupported_media_type", [Localization.text("document_api_media_type", in: language)])
            }
        } catch let error as HTTPError where error.status == .contentTooLarge {
            return try Self.answer(.contentTooLarge, "too_large", [Localization.text("document_api_too_large", in: language, ["mb": String(maxBytes / (1024 * 1024))])])
        }
        guard !files.isEmpty else { return try Self.answer(.badRequest, "no_document", [Localization.text("document_api_no_document", in: language)]) }

        let caseParameter = request.uri.queryParameters.get("case") ?? fields["case"]
        var answers: [Answer] = []
        var worst: HTTPResponse.Status = .ok
        for file in files {
            let (status, answer) = try await importOne(file.data, name: file.name, caseParameter: caseParameter, token: token, language: language, context: context)
            answers.append(answer)
            if status.code > worst.code || (status == .created && worst == .ok) { worst = status }
        }
        if answers.count == 1, let only = answers.first { return try Responses.json(only, status: worst) }
        return try Responses.json(["results": answers], status: worst)
    }

    func importOne(_ bytes: Data, name: String?, caseParameter: String?, token: APIToken, language: AppLanguage,
                   context: AppRequestContext) async throws -> (HTTPResponse.Status, Answer) {
        let community = token.communityID, tokenID = token.id
        func refused(_ status: HTTPResponse.Status, _ code: String, _ errors: [String]) -> (HTTPResponse.Status, Answer) {
            (status, Answer(file: name, status: code, documentId: nil, url: nil, errors: errors, warnings: []))
        }
        let report = importer.read(bytes)
        guard let document = report.document, report.ok else { return refused(.unprocessableContent, "refused", report.errors) } // the reader's words
        let target: DocumentImporter.Target
        switch try await importer.target(for: document, community: community, caseParameter: caseParameter, cases: cases) {
        case .success(let found): target = found
        case .failure(let problem):
            return refused(problem == .unknownCase ? .notFound : .unprocessableContent, problem.rawValue, [ImportPresentation.text(problem, in: language)])
        }
        let audit = AuditDraft(request: context, .documentImport, actor: nil, resourceType: "document", resourceID: nil, patientID: target.patient.id,
                               mode: .normal, outcome: .success, reason: "api_token:\(tokenID.storageKey)", clientAddress: context.clientAddress)
        let outcome = try await importer.file(document, bytes: bytes, warnings: report.warnings.map(DocumentImporter.Message.reader), into: target, confirmedTraits: false,
                                              source: .api, audit: audit, at: Date())
        switch outcome {
        case .imported(let id, _, let warnings):
            var answer = Answer(file: name, status: "imported", documentId: id.storageKey, url: SiteURL.document(id).path, errors: [],
                                warnings: warnings.map { ImportPresentation.text($0, in: language) })
            if token.trustedForIdentities, target.patient.identity.status != .qualified {
                answer.identity = try await qualify(target.patient, from: document, documentID: id, token: token, context: context)
            }
            return (.created, answer)
        case .alreadyImported(let id):
            return (.ok, Answer(file: name, status: "already_imported", documentId: id.storageKey, url: SiteURL.document(id).path, errors: [], warnings: []))
        case .refused(let errors):
            return refused(.unprocessableContent, "refused", errors.map { ImportPresentation.text($0, in: language) })
        case .needsConfirmation:
            return refused(.unprocessableContent, "needs_confirmation", [
                Localization.text("document_api_needs_confirmation", in: language),
            ])
        }
    }

    /// Qualifies the record from a trusted organisation's document when INS and traits
    /// agree; audited either way. Returns what the answer says of the identity.
    private func qualify(_ record: PatientRecord, from document: CDADocument, documentID: UUID, token: APIToken,
                         context: AppRequestContext) async throws -> String {
        let finess = token.organisationFINESS ?? "?"
        func event(_ outcome: AuditOutcome, _ reason: String) -> AuditDraft {
            AuditDraft(request: context, .identityQualify, actor: nil, resourceType: "patient_identity", resourceID: record.id.storageKey,
                       patientID: record.id, mode: .normal, outcome: outcome,
                       reason: "\(reason);trusted_organisation:\(finess);document:\(documentID.storageKey)", clientAddress: context.clientAddress)
        }
        switch IdentityStatusRules.qualificationFromTrustedSender(of: record.identity, sent: document.patient?.identity) {
        case .success:
            let proof = IdentityProof(status: .qualified, documentType: nil, verifier: IdentityProof.trustedOrganisationPrefix + finess,
                                      source: .trustedOrganisation, recordedBy: nil)
            do {
                try await patients.recordIdentityProof(proof, patientID: record.id, expectedStatus: record.identity.status, audit: event(.success, "confirmed"))
                return "qualified"
            } catch StoreError.statusChanged {
                return "not_qualified:status_changed"
            }
        case .failure(let refusal):
            let reason = refusal.auditReason
            try await audit.record(event(.failure, reason))
            return "not_qualified:" + reason
        }
    }
}
