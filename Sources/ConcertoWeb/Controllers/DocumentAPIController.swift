import CDA
import ConcertoCore
import ConcertoStore
import Foundation
import HTTPTypes
import Hummingbird

/// `POST /api/v1/documents` for hospital systems: a bearer token names the community;
/// the body is the CDA document (`application/xml`) or a multipart form with `file`
/// parts. The patient is the case's (`case` parameter) or found by INS among the
/// community's patients. Idempotent on the document id. Answers JSON.
struct DocumentAPIController: Sendable {
    let documents: DocumentStore
    let importer: DocumentImporter
    let cases: CaseStore
    let patients: PatientStore
    let maxBytes: Int

    func addRoutes(to router: some RouterMethods<AppRequestContext>) {
        router.post(RouterPath(SiteURL.apiDocuments.pattern), use: post)
    }

    struct Answer: Encodable {
        let file: String?
        let status: String
        let documentId: String?
        let url: String?
        let errors: [String]
        let warnings: [String]
    }

    static func answer(_ status: HTTPResponse.Status, _ code: String, _ errors: [String]) throws -> Response {
        try DocumentController.json(Answer(file: nil, status: code, documentId: nil, url: nil, errors: errors, warnings: []), status: status)
    }

    @Sendable func post(_ request: Request, context: AppRequestContext) async throws -> Response {
        var request = request
        guard let authorization = request.headers[.authorization], authorization.lowercased().hasPrefix("bearer "),
              let token = try await documents.token(secret: String(authorization.dropFirst(7)).trimmingCharacters(in: .whitespaces)) else {
            var response = try Self.answer(.unauthorized, "unauthorized", ["Jeton d'accès absent ou invalide (Authorization: Bearer …)."])
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
                return try Self.answer(.unsupportedMediaType, "unsupported_media_type", ["Envoyez le document en application/xml ou multipart/form-data."])
            }
        } catch let error as HTTPError where error.status == .contentTooLarge {
            return try Self.answer(.contentTooLarge, "too_large", ["Document au-delà de la limite de \(maxBytes / (1024 * 1024)) Mo."])
        }
        guard !files.isEmpty else { return try Self.answer(.badRequest, "no_document", ["Aucun document dans la requête."]) }

        let caseParameter = request.uri.queryParameters.get("case") ?? fields["case"]
        var answers: [Answer] = []
        var worst: HTTPResponse.Status = .ok
        for file in files {
            let (status, answer) = try await importOne(file.data, name: file.name, caseParameter: caseParameter, community: token.communityID,
                                                       tokenID: token.id, context: context)
            answers.append(answer)
            if status.code > worst.code || (status == .created && worst == .ok) { worst = status }
        }
        if answers.count == 1, let only = answers.first { return try DocumentController.json(only, status: worst) }
        return try DocumentController.json(["results": answers], status: worst)
    }

    func importOne(_ bytes: Data, name: String?, caseParameter: String?, community: UUID, tokenID: UUID,
                   context: AppRequestContext) async throws -> (HTTPResponse.Status, Answer) {
        func refused(_ status: HTTPResponse.Status, _ code: String, _ errors: [String]) -> (HTTPResponse.Status, Answer) {
            (status, Answer(file: name, status: code, documentId: nil, url: nil, errors: errors, warnings: []))
        }
        let report = importer.read(bytes)
        guard let document = report.document, report.ok else { return refused(.unprocessableContent, "refused", report.errors) }
        let target: DocumentImporter.Target
        switch try await importer.target(for: document, community: community, caseParameter: caseParameter, cases: cases) {
        case .success(let found): target = found
        case .failure(let problem): return refused(problem.code == "unknown_case" ? .notFound : .unprocessableContent, problem.code, [problem.message])
        }
        let audit = AuditDraft(request: context, .documentImport, actor: nil, resourceType: "document", resourceID: nil, patientID: target.patient.id,
                               mode: .normal, outcome: .success, reason: "api_token:\(tokenID.storageKey)", clientAddress: context.clientAddress)
        let outcome = try await importer.file(document, bytes: bytes, warnings: report.warnings, into: target, confirmedTraits: false,
                                              source: .api, audit: audit, at: Date())
        switch outcome {
        case .imported(let id, _, let warnings):
            return (.created, Answer(file: name, status: "imported", documentId: id.storageKey, url: SiteURL.document(id).path, errors: [], warnings: warnings))
        case .alreadyImported(let id):
            return (.ok, Answer(file: name, status: "already_imported", documentId: id.storageKey, url: SiteURL.document(id).path, errors: [], warnings: []))
        case .refused(let errors):
            return refused(.unprocessableContent, "refused", errors)
        case .needsConfirmation:
            return refused(.unprocessableContent, "needs_confirmation", [
                "Le document ne porte pas d'INS comparable à celui du patient : déposez-le depuis la fiche RCP pour qu'une personne confirme le rapprochement.",
            ])
        }
    }
}
