import ConcertoCore
import ConcertoServices
import ConcertoStore
import DICOMweb
import Foundation
import HTTPTypes
import Hummingbird
import Mustache

/// A case's Imagerie tab: searching the exchange for the patient's studies, attaching and
/// detaching them by reference, thumbnails and viewer links through Concerto. Every route
/// passes `AccessGuard` before any request leaves for the exchange, and is audited with the
/// study UID.
struct ImagingController: Sendable {
    let cases: CaseStore
    let patients: PatientStore
    let studies: ImagingStore
    let imaging: ImagingService
    let guardian: AccessGuard
    let renderer: Renderer

    func addRoutes(to group: some RouterMethods<AuthenticatedContext>) {
        group.get(SiteURL.route { id, _ in .caseImaging(id) }, use: page)
        group.post(SiteURL.route { id, _ in .caseImaging(id) }, use: attach)
        group.post(SiteURL.route { id, item in .caseImagingDetach(id, study: item) }, use: detach)
        group.get(SiteURL.route { id, item in .caseImagingThumbnail(id, study: item) }, use: thumbnail)
        group.get(SiteURL.route { id, item in .caseImagingViewer(id, study: item) }, use: viewer)
    }

    /// How far back the search looks by default: priors (antériorités) of three years.
    static let defaultYears = 3
    static let pageSize = 50

    // MARK: Loading

    struct Loaded: Sendable {
        let record: CaseRecord
        let outcome: AccessGuard.Outcome
    }

    func load(_ context: AuthenticatedContext, action: AccessAction, auditAction: AuditAction, resourceType: String = "case",
              resourceID: String? = nil, auditAllowed: Bool) async throws -> Loaded {
        let (record, outcome) = try await guardian.requireCase(action, cases: cases, auditAction: auditAction, resourceType: resourceType,
                                                               resourceID: resourceID.map { id in { _ in id } }, auditAllowed: auditAllowed, context: context)
        return Loaded(record: record, outcome: outcome)
    }

    /// The attachment named in the URL, only if it belongs to the case in the URL: a forged
    /// pair answers 404 before the access check reveals anything.
    func attachment(_ context: AuthenticatedContext) async throws -> AttachedStudy {
        let caseID = try context.parameters.uuid(.case)
        guard let study = try await studies.find(id: try context.parameters.uuid(.study)), study.caseID == caseID else { throw AppError.notFound }
        return study
    }

    func identifiers(of patient: PatientRecord?) async throws -> [PatientIdentifier] {
        guard let patient else { return [] }
        return try await ImagingService.identifiers(of: patient, patients: patients)
    }

    func draft(_ action: AuditAction, _ loaded: Loaded, context: AuthenticatedContext, reason: String? = nil) -> AuditDraft {
        context.auditDraft(action, resourceType: "case", resourceID: loaded.record.id.storageKey, patientID: loaded.record.patientID,
                           mode: loaded.outcome.decision.mode, outcome: .success, reason: reason)
    }

    // MARK: The tab

    struct SearchForm: Sendable {
        var exchange: ExchangeConfiguration?
        var from: CalendarDate?
        var to: CalendarDate?
        var modalities: [String]
        var accession: String?
        var offset: Int
        var problems: [String]
    }

    func searchForm(_ request: Request, pages: PageBuilder, now: Date = Date()) -> SearchForm {
        let query = request.uri.queryParameters
        func value(_ name: String) -> String? {
            query[name[...]].map(String.init).map { $0.trimmingCharacters(in: .whitespaces) }.flatMap { $0.isEmpty ? nil : $0 }
        }
        var problems: [String] = []
        let exchange = value("exchange").flatMap { imaging.directory.exchange(id: $0) } ?? imaging.directory.exchanges.first
        if let requested = value("exchange"), imaging.directory.exchange(id: requested) == nil { problems.append(pages.text("imaging_error_exchange")) }
        let today = ParisCalendar.date(of: now)
        // Same day three years back (the 28th at most, so February never fails).
        var from: CalendarDate? = CalendarDate(year: today.year - Self.defaultYears, month: today.month, day: min(today.day, 28))
        if request.uri.queryParameters["from"] != nil {
            // Present but empty: no lower bound (all the exchange holds).
            from = value("from").flatMap(CalendarDate.init(iso:))
            if value("from") != nil && from == nil { problems.append(pages.text("imaging_error_date")) }
        }
        let to = value("to").flatMap(CalendarDate.init(iso:))
        if value("to") != nil && to == nil { problems.append(pages.text("imaging_error_date")) }
        let modalities = query.getAll("modality").map { $0.uppercased() }.filter(ImagingModality.isValid)
        var accession = value("accession").map { String($0.prefix(16)) }
        if let given = accession, !LocalPatientID.isValidAccessionNumber(given) {
            problems.append(pages.text("imaging_error_accession"))
            accession = nil
        }
        let offset = value("offset").flatMap(Int.init).map { max(0, min($0, 10_000)) } ?? 0
        return SearchForm(exchange: exchange, from: from, to: to, modalities: modalities, accession: accession, offset: offset, problems: problems)
    }

    /// The fiche's imaging tab: search of the exchange (criteria, results, paging) and the studies attached.
    struct ImagingPage: Sendable, PageModel {
        let patientName: String?
        let caseURL, community, actionURL, accessMessage: String
        let breakTheGlass, notConfigured, noIdentifier, validated: Bool
        let problems: [String]
        let failure: String?
        let severalExchanges: Bool
        let exchanges: [ViewFields]
        let exchangeID, exchangeName: String?
        let from, to, accession: String
        let modalities: [ViewFields]
        let searched: Bool
        let results: [ViewFields]
        let hasResults: Bool
        let nextURL, previousURL: String?
        let attached: [ViewFields]
        let hasAttached: Bool
        let returnPath: String
        let mayWrite: Bool
    }

    @Sendable func page(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let pages = PageBuilder(request: request, context: context)
        let form = searchForm(request, pages: pages)
        // The check and its audit event come first: a refused user causes no QIDO call.
        let loaded = try await load(context, action: .readClinical, auditAction: .imagingSearch, auditAllowed: false)
        let record = loaded.record
        let mayWrite = guardian.policy.decide(.writeClinical, loaded.outcome.facts, community: record.communityID, at: Date()).allowed && record.status != .validated
        let patient = try await patients.find(id: record.patientID)
        let identifiers = try await identifiers(of: patient)
        let attached = try await studies.studies(ofCase: record.id)
        var results: [StudySummary] = []
        var failure: DICOMwebError?
        var searched = false
        if let exchange = form.exchange, let client = imaging.client(exchange.id), let patient, !identifiers.isEmpty, form.problems.isEmpty {
            try await guardian.audit.record(draft(.imagingSearch, loaded, context: context, reason: "exchange:\(exchange.id)"))
            searched = true
            do throws(DICOMwebError) {
                let query = StudyQuery(from: form.from, to: form.to, modalities: form.modalities, accessionNumber: form.accession,
                                       limit: Self.pageSize + 1, offset: form.offset)
                results = try await imaging.search(query, identifiers: identifiers, identity: patient.identity, on: client)
            } catch {
                failure = error
            }
        } else {
            try await guardian.audit.record(guardian.allowedEvent(loaded.outcome.decision, auditAction: .caseRead, resourceType: "case",
                                                                  resourceID: record.id.storageKey, patientID: record.patientID, context: context))
        }
        let hasMore = results.count > Self.pageSize
        results = Array(results.prefix(Self.pageSize))
        let attachedUIDs = Set(attached.map { "\($0.reference.exchangeID) \($0.reference.studyUID)" })
        var pageQuery = request.uri.queryParameters.filter { $0.key != "offset" }.map { URLQueryItem(name: String($0.key), value: String($0.value)) }
        if request.uri.queryParameters["from"] == nil, let from = form.from { pageQuery.append(URLQueryItem(name: "from", value: from.iso)) }
        func pageURL(_ offset: Int) -> String {
            var components = URLComponents()
            components.path = SiteURL.caseImaging(record.id).path
            components.queryItems = pageQuery + [URLQueryItem(name: "offset", value: String(offset))]
            return components.string ?? components.path
        }
        let content = ImagingPage(
            patientName: patient?.identity.displayName, caseURL: SiteURL.caseItem(record.id).path, community: record.communityName,
            actionURL: SiteURL.caseImaging(record.id).path,
            accessMessage: pages.text("access_reason_\(loaded.outcome.decision.reason.rawValue)"),
            breakTheGlass: loaded.outcome.decision.mode == .breakTheGlass,
            notConfigured: !imaging.isConfigured,
            noIdentifier: imaging.isConfigured && identifiers.isEmpty,
            validated: record.status == .validated,
            problems: form.problems,
            failure: failure.map(\.frenchMessage),
            severalExchanges: imaging.directory.exchanges.count > 1,
            exchanges: imaging.directory.exchanges.map { exchange in
                ViewFields(["id": exchange.id, "name": exchange.name, "selected": exchange.id == form.exchange?.id ? true : nil])
            },
            exchangeID: form.exchange?.id, exchangeName: form.exchange?.name,
            from: form.from?.iso ?? "", to: form.to?.iso ?? "", accession: form.accession ?? "",
            modalities: ImagingModality.common.map { code in
                ViewFields(["code": code, "label": pages.text("modality_\(code)"), "checked": form.modalities.contains(code) ? true : nil])
            },
            searched: searched && failure == nil,
            results: resultFields(results, exchangeID: form.exchange?.id ?? "", from: form.from, attached: attachedUIDs, mayWrite: mayWrite),
            hasResults: !results.isEmpty,
            nextURL: hasMore ? pageURL(form.offset + Self.pageSize) : nil,
            previousURL: form.offset > 0 ? pageURL(max(0, form.offset - Self.pageSize)) : nil,
            attached: StudyPresentation.attachedFields(attached, caseID: record.id, mayDetach: mayWrite, imaging: imaging, pages: pages),
            hasAttached: !attached.isEmpty,
            returnPath: SiteURL.caseImaging(record.id).path,
            mayWrite: mayWrite)
        // 200 even when the exchange failed: the page itself worked and says what did not.
        return try renderer.html("case_imaging", pages.page(content))
    }

    func resultFields(_ results: [StudySummary], exchangeID: String, from: CalendarDate?, attached: Set<String>, mayWrite: Bool) -> [ViewFields] {
        results.map { study in
            let isAttached = attached.contains("\(exchangeID) \(study.studyInstanceUID)")
            return ViewFields([
                "date": study.date?.french, "modalities": study.modalities.joined(separator: ", "), "description": study.description,
                "series": study.seriesCount.map(String.init), "instances": study.instanceCount.map(String.init),
                "accession": study.accessionNumber, "uid": study.studyInstanceUID,
                "attached": isAttached ? true : nil, "mayAttach": mayWrite && !isAttached ? true : nil,
            ])
        }
    }

    // MARK: Attach, detach

    @Sendable func attach(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let loaded = try await load(context, action: .writeClinical, auditAction: .imagingAttach, auditAllowed: false)
        let record = loaded.record
        let pages = PageBuilder(request: request, context: context)
        let form = context.form ?? FormData(fields: [:])
        guard record.status != .validated else { return try refusal(pages.text("imaging_error_validated"), record: record, pages: pages, status: .conflict) }
        guard let studyUID = form.trimmed("study"), DICOMUIDSyntax.isValid(studyUID),
              let exchange = imaging.directory.exchange(id: form.trimmed("exchange") ?? imaging.directory.exchanges.first?.id ?? ""),
              let client = imaging.client(exchange.id) else {
            return try refusal(pages.text("imaging_error_study"), record: record, pages: pages, status: .unprocessableContent)
        }
        let note = form.trimmed("note").map { String($0.prefix(200)) }
        guard let patient = try await patients.find(id: record.patientID) else { throw AppError.notFound }
        let identifiers = try await identifiers(of: patient)
        let found: ImagingService.LookUp
        do throws(DICOMwebError) {
            // Described by the exchange, for this patient: never what the form claims.
            found = try await imaging.lookUp(studyUID: studyUID, identifiers: identifiers, identity: patient.identity, on: client)
        } catch {
            return try refusal(error.frenchMessage + " " + pages.text("imaging_nothing_changed"), record: record, pages: pages,
                               status: error.exchangeUnavailable ? .serviceUnavailable : .badGateway)
        }
        let reference: StudyReference
        switch found {
        case .found(let study): reference = study
        case .notFound, .notThisPatients:
            let reason = if case .notThisPatients(let mismatch) = found { mismatch.rawValue } else { "study_not_found_for_patient" }
            try await guardian.audit.record(context.auditDraft(.imagingAttach, resourceType: "imaging_study", resourceID: studyUID, patientID: record.patientID,
                                                               mode: loaded.outcome.decision.mode, outcome: .denied, reason: reason))
            let message = if case .notThisPatients(let mismatch) = found { pages.text("imaging_error_\(mismatch.rawValue)") } else { pages.text("imaging_error_not_found") }
            return try refusal(message, record: record, pages: pages, status: .unprocessableContent)
        }
        _ = try await studies.attach(reference, toCase: record.id, note: note, by: context.user.id,
                                     audit: draft(.imagingAttach, loaded, context: context, reason: "exchange:\(exchange.id)"))
        return .redirect(to: Self.returnPath(form.trimmed("return"), fallback: SiteURL.caseImaging(record.id).path), type: .normal)
    }

    @Sendable func detach(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let study = try await attachment(context)
        let loaded = try await load(context, action: .writeClinical, auditAction: .imagingDetach, auditAllowed: false)
        let pages = PageBuilder(request: request, context: context)
        guard loaded.record.status != .validated else {
            return try refusal(pages.text("imaging_error_validated"), record: loaded.record, pages: pages, status: .conflict)
        }
        guard try await studies.detach(study.id, fromCase: loaded.record.id, audit: draft(.imagingDetach, loaded, context: context)) else { throw AppError.notFound }
        return .redirect(to: Self.returnPath(context.form?.trimmed("return"), fallback: SiteURL.caseImaging(loaded.record.id).path), type: .normal)
    }

    /// Back to the case page or the tab, never elsewhere.
    static func returnPath(_ candidate: String?, fallback: String) -> String {
        guard let candidate, SafeRedirect.isLocal(candidate), candidate.hasPrefix("/cases/") else { return fallback }
        return candidate
    }

    func refusal(_ message: String, record: CaseRecord, pages: PageBuilder, status: HTTPResponse.Status) throws -> Response {
        let page = ImagingRefusalPage(message: message, backURL: SiteURL.caseImaging(record.id).path, caseURL: SiteURL.caseItem(record.id).path)
        return try renderer.html("imaging_refused", pages.page(page), status: status)
    }

    // MARK: Pictures and viewer

    @Sendable func thumbnail(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let study = try await attachment(context)
        _ = try await load(context, action: .readClinical, auditAction: .imagingView, resourceType: "imaging_study",
                           resourceID: study.reference.studyUID, auditAllowed: true)
        guard let client = imaging.client(study.reference.exchangeID) else { return Self.placeholder(status: .notFound) }
        do {
            var keySeries = study.reference.keySeriesUID
            if keySeries == nil {
                keySeries = SeriesSummary.keySeries(try await client.series(ofStudy: study.reference.studyUID))?.seriesInstanceUID
                if let keySeries { try await studies.setKeySeries(keySeries, for: study.id) }
            }
            guard let keySeries else { return Self.placeholder(status: .notFound) }
            let entry = try await imaging.thumbnail(of: study.reference, keySeries: keySeries, on: client)
            // Browsers revalidate each time (no-cache), so every view is checked and audited;
            // an unchanged picture costs a 304.
            var headers: HTTPFields = [.eTag: entry.etag, .cacheControl: "private, no-cache"]
            if request.headers[.ifNoneMatch] == entry.etag {
                return Response(status: .notModified, headers: headers)
            }
            headers[.contentType] = entry.image.contentType
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: entry.image.bytes)))
        } catch let error as DICOMwebError {
            return Self.placeholder(status: error.exchangeUnavailable ? .serviceUnavailable : .badGateway)
        }
    }

    /// A grey square saying the picture is unavailable; browsers show it in place.
    static func placeholder(status: HTTPResponse.Status) -> Response {
        let svg = """
            <svg xmlns="http://www.w3.org/2000/svg" width="128" height="128" viewBox="0 0 128 128"><rect width="128" height="128" fill="#e5e7eb"/>\
            <text x="64" y="60" font-family="sans-serif" font-size="12" text-anchor="middle" fill="#4b5563">Image</text>\
            <text x="64" y="78" font-family="sans-serif" font-size="12" text-anchor="middle" fill="#4b5563">indisponible</text></svg>
            """
        return Response(status: status, headers: [.contentType: "image/svg+xml", .cacheControl: "no-store"],
                        body: .init(byteBuffer: ByteBuffer(string: svg)))
    }

    @Sendable func viewer(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let study = try await attachment(context)
        guard let exchange = imaging.directory.exchange(id: study.reference.exchangeID), let url = exchange.viewerURL(study: study.reference.studyUID) else {
            throw AppError.notFound
        }
        _ = try await load(context, action: .readClinical, auditAction: .imagingViewer, resourceType: "imaging_study",
                           resourceID: study.reference.studyUID, auditAllowed: true)
        return .redirect(to: url, type: .normal)
    }
}
