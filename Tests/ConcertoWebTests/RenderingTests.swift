import ConcertoCore
import ConcertoStore
import ConcertoTestSupport
@testable import ConcertoWeb
import Foundation
import Mustache
import Testing

@Suite struct RenderingTests {
    @Test func escapesTheFiveHTMLCharactersAndKeepsTheRest() {
        #expect(HTMLEscaping.escape(#"<a href="x">l'été & co</a>"#) == "&lt;a href=&quot;x&quot;&gt;l&#39;été &amp; co&lt;/a&gt;")
        #expect(HTMLEscaping.escape("Dr Hélène Œuvray — ORL") == "Dr Hélène Œuvray — ORL")
        #expect(HTMLEscaping.escape("") == "")
    }

    @Test func constantsAreWrittenInEscapedAndUnknownOnesStopTheStart() throws {
        let source = "<a href=\"{{urls.home}}\">{{ t.nav_home }}</a>{{dynamic}}"
        #expect(try Renderer.substituteConstants(in: source, template: "x", language: .fr) == "<a href=\"/\">Tableau de bord</a>{{dynamic}}")
        #expect(try Renderer.substituteConstants(in: "{{t.footer_text}}", template: "x", language: .fr).contains("l&#39;équipe"))
        #expect(throws: RenderError.self) { try Renderer.substituteConstants(in: "{{t.no_such_key}}", template: "x", language: .en) }
    }

    @Test func aDatabaseThatDoesNotAnswerIsA503() {
        #expect(ErrorMiddleware.status(for: DatabaseError.unavailable) == .serviceUnavailable)
        #expect(ErrorMiddleware.templateKey(for: .serviceUnavailable) == "503")
        #expect(Localization.text("error_503_title", in: .fr) == "Service momentanément indisponible")
    }

    @Test func placeholdersAreFilledInOnePass() {
        let arguments = ["name": "Dr {title} Œuvray", "title": "Hélène"]
        #expect(Localization.fill("{name} — {title}, {unknown} {", with: arguments) == "Dr {title} Œuvray — Hélène, {unknown} {")
        #expect(Localization.fill("{title}{title}", with: arguments) == "HélèneHélène")
        #expect(Localization.fill("no placeholder", with: arguments) == "no placeholder")
        #expect(Localization.fill("{{title}}", with: arguments) == "{Hélène}")
    }

    @Test func everyTemplateUsesTheEscapingContentType() throws {
        for file in try FileManager.default.contentsOfDirectory(atPath: Repository.templates.path) where file.hasSuffix(".mustache") {
            let text = try String(contentsOf: Repository.templates.appendingPathComponent(file), encoding: .utf8)
            #expect(text.hasPrefix("{{% CONTENT_TYPE: HTML_FAST }}"), "\(file)")
        }
    }

    /// An indented partial or block makes swift-mustache count the characters of every
    /// piece it renders inside (to re-indent lines): 7 % of the agenda page's CPU.
    @Test func noTemplateIndentsAPartialOrABlock() throws {
        for file in try FileManager.default.contentsOfDirectory(atPath: Repository.templates.path) where file.hasSuffix(".mustache") {
            let text = try String(contentsOf: Repository.templates.appendingPathComponent(file), encoding: .utf8)
            for line in text.split(separator: "\n") where line.first == " " || line.first == "\t" {
                let trimmed = line.drop(while: { $0 == " " || $0 == "\t" })
                #expect(!trimmed.hasPrefix("{{>") && !trimmed.hasPrefix("{{$") && !trimmed.hasPrefix("{{<"), "\(file): \(line)")
            }
        }
    }

    /// Each model answers Mustache by name; a property left out of `child(named:)` would
    /// silently render empty, so every stored property must resolve.
    @Test(arguments: RenderingTests.sampleModels())
    func everyStoredPropertyOfAModelIsReachableByName(model: SampleModel) {
        for child in Mirror(reflecting: model.value).children {
            guard let label = child.label else { continue }
            #expect(model.value.child(named: label) != nil, "\(type(of: model.value)).\(label)")
        }
        #expect(model.value.child(named: "noSuchField") == nil)
    }

    /// A `PageModel` is read once per render by `PageBuilder.page`; one held by a model that
    /// answers Mustache itself would be reflected at every lookup (the dashboard's rows were).
    @Test(arguments: RenderingTests.sampleModels())
    func modelsThatAnswerByHandHoldNoPageModels(model: SampleModel) {
        guard !(model.value is any PageModel) else { return }
        for child in Mirror(reflecting: model.value).children {
            var type: Any.Type = Swift.type(of: child.value)
            while let wrapper = type as? any WrappingType.Type { type = wrapper.wrappedType }
            #expect(!(type is any PageModel.Type), "\(Swift.type(of: model.value)).\(child.label ?? "?") holds a PageModel")
        }
    }

    @Test func aPageAnswersWithTheFieldsOfItsLayoutAndContent() {
        let page = Page(language: .en, layout: Self.sampleLayout, content: ErrorMiddleware.ErrorContent(status: 404, title: "T", message: "M", requestID: "r"))
        #expect(page.child(named: "csrfToken") as? String == "c")
        #expect(page.child(named: "status") as? Int == 404)
        #expect(page.child(named: "language") as? String == "en")
        #expect(page.child(named: "nothing") == nil)
    }

    /// Page content is looked up after the layout: a content field named like a layout
    /// field would be hidden.
    @Test(arguments: RenderingTests.sampleModels())
    func contentNamesDoNotClashWithLayoutNames(model: SampleModel) {
        guard !(model.value is LayoutModel) else { return }
        let layoutNames = Set(Mirror(reflecting: RenderingTests.sampleLayout).children.compactMap(\.label))
        let names = Set(Mirror(reflecting: model.value).children.compactMap(\.label))
        #expect(layoutNames.isDisjoint(with: names), "\(type(of: model.value))")
    }

    /// Which template renders each page model (by type name).
    static let pageTemplates: [String: String] = [
        "ErrorContent": "error", "LoginContent": "login", "ProblemContent": "psc_problem", "RequestContent": "psc_request",
        "ListContent": "access_requests", "TOTPContent": "login_totp", "AccountContent": "account", "ResetContent": "password_reset",
        "EnrolmentContent": "totp_enrol", "DashboardContent": "dashboard", "FollowUpPage": "case_follow_up",
        "RegistrationCheckPage": "case_registration_check", "IndicatorsPage": "community_indicators", "ResearchPage": "community_research",
        "AgendaContent": "meeting_agenda", "CommunityContent": "community", "CommunitiesContent": "admin_communities", "AuditContent": "audit",
        "NewPatientContent": "patient_new", "PatientContent": "patient", "EmergencyContent": "emergency_access",
        "AccessReportContent": "access_report", "OrganisationsContent": "admin_organisations", "MergeContent": "admin_merge",
        "ProfessionalsContent": "admin_professionals", "ImportPage": "document_import", "ImagingRefusalPage": "imaging_refused", "MeetingPage": "meeting",
        "DraftFragment": "meeting_live_draft",
        "CaseFragment": "meeting_live_case",
        "StatusFragment": "meeting_live_status",
        "LivePage": "meeting_live",
        "ImagingPage": "case_imaging",
        "SessionPage": "meeting_session",
        "MeetingFormPage": "meeting_form",
        "MeetingsPage": "meetings",
        "DocumentPage": "document",
        "CaseFormPage": "case_form",
        "CasePage": "case",
    ]

    /// A name a page's template reads at its top level (outside any section) is a field of
    /// its model or of the layout: a misspelt `{{nmae}}` fails here instead of rendering
    /// nothing. (Names inside sections belong to their rows.)
    @Test(arguments: RenderingTests.sampleModels())
    func everyNameATemplateReadsIsAFieldOfItsModel(model: SampleModel) throws {
        guard let template = Self.pageTemplates[model.testDescription] else { return }
        let text = try String(contentsOf: Repository.templates.appendingPathComponent("\(template).mustache"), encoding: .utf8)
        let names = try Self.topLevelNames(text)
        #expect(!names.isEmpty, "\(template).mustache")
        let known = Set(Mirror(reflecting: model.value).children.compactMap(\.label))
            .union(Mirror(reflecting: Self.sampleLayout).children.compactMap(\.label)).union(["language", "t", "urls"])
        // Names a model computes (`hasRequests`) answer too.
        for name in names.sorted() where !known.contains(name) && model.value.child(named: name) == nil {
            Issue.record("\(template).mustache reads {{\(name)}}, which \(model.testDescription) does not have")
        }
    }

    @Test func topLevelNamesSkipSectionsButNotBlocks() throws {
        let names = try Self.topLevelNames("{{<layout}}{{$body}}{{a}} {{#b}}{{c}}{{/b}} {{^d}}{{e}}{{/d}} {{{f}}} {{g.h}} {{>partial}} {{^empty(i)}}{{j}}{{/empty(i)}}{{/body}}{{/layout}}")
        #expect(names == ["a", "b", "d", "f", "g", "i"])
    }

    static func topLevelNames(_ template: String) throws -> Set<String> {
        // `{{^empty(rows)}}` reads `rows` through a transform.
        let tag = try Regex(#"\{\{(\{?)\s*([#^/&>$<!%]?)\s*(?:[a-z]+\()?([A-Za-z0-9_.]+)[^}]*\}?\}\}"#)
        var open: [Character] = [], names: Set<String> = []
        for match in template.matches(of: tag) {
            let sigil = (match.output[2].substring ?? "").first
            let name = String((match.output[3].substring ?? "").split(separator: ".").first ?? "")
            let inSection = open.contains { $0 == "#" || $0 == "^" }
            switch sigil {
            case "/": _ = open.popLast()
            case "#", "^":
                if !inSection { names.insert(name) }
                open.append(sigil!)
            case "$", "<": open.append(sigil!)
            case "!", ">", "%": break
            default: if !inSection { names.insert(name) }
            }
        }
        return names
    }

    static let sampleLayout = LayoutModel(
        signedInUser: .init(displayName: "D", roleLabel: "R"), csrfToken: "c",
        flash: .init(kind: "info", message: "M"), currentPath: "/"
    )

    struct SampleModel: Sendable, CustomTestStringConvertible {
        let value: any MustacheParent & Sendable
        var testDescription: String { String(describing: type(of: value)) }
    }

    static func sampleModels() -> [SampleModel] {
        let layout = LayoutModel(
            signedInUser: .init(displayName: "D", roleLabel: "R"), csrfToken: "c",
            flash: .init(kind: "info", message: "M"), currentPath: "/"
        )
        let values: [any MustacheParent & Sendable] = [
            layout,
            layout.signedInUser!, layout.flash!,
            ErrorMiddleware.ErrorContent(status: 404, title: "T", message: "M", requestID: "r", emergencyURL: "/"),
            AuthController.LoginContent(email: "e", next: "/", error: "x", info: "i", pscURL: "/login/psc"),
            PSCController.ProblemContent(message: "m", retryURL: "/login/psc"),
            PSCController.RequestContent(displayName: "D", rpps: "1", sites: ["s"], isPending: true, isApproved: false, isRefused: false, refusal: "r",
                                         createdAt: "c", contactEmail: "e", error: "x", action: "/a", loginURL: "/l"),
            AccessRequestsController.ListContent(requests: [], error: "e"),
            AuthController.TOTPContent(next: "/", error: "x"),
            AccountController.AccountContent(displayName: "D", email: "e", rppsNumber: "1", specialty: "s", roleLabel: "r", totpEnabled: true, error: "x", passwordError: "y"),
            PasswordResetController.ResetContent(action: "/a", email: "e", error: "x"),
            AccountController.EnrolmentContent(displayKey: "K", authenticatorURL: "u", error: "x"),
            { () -> DashboardController.DashboardContent in
                var dashboard = DashboardController.DashboardContent(
                    displayName: "D", communities: [], invitations: [], mayCreatePatient: true, isPlatformAdmin: true,
                    upcomingMeetingsHTML: "<li></li>", myCasesHTML: "<li></li>", toValidateHTML: "<li></li>", myFollowUpsHTML: "<li></li>",
                    communityFollowUpsHTML: "<li></li>")
                dashboard.accessRequestsNotice = "3"
                return dashboard
            }(),
            FollowUpController.FollowUpPage(
                caseURL: "/c", patientName: "P", decidedOn: "01/01/2026", proposal: "p", proposalTypes: "t", recorded: nil, formAction: "/f", outcomes: [],
                reasonValue: "r", firstTreatmentValue: "2026-01-02", carePlanValue: "2026-01-03", revision: "1", earliest: "2026-01-01", latest: "2026-02-01",
                errors: ["e"]),
            SelectOption(value: "v", label: "l", selected: true),
            CaseController.RegistrationCheckPage(caseURL: "/c", action: "/a", meetingID: "m", meetingLabel: "l", lines: [], attestations: [], blocked: true,
                                                 mayOverride: true, returnTo: "/c"),
            CaseController.RegistrationCheckPage.Attestation(name: "attest_0", label: "l", checked: false),
            CompletenessLine(label: "l", level: "required", required: true, met: false, fixURL: "/f", fixLabel: "f"),
            IndicatorsController.IndicatorsPage(communityName: "C", communityURL: "/c", action: "/a", from: "2026-01-01", to: "2026-12-31", periodLabel: "p",
                                                figures: [], monthChartHTML: "<svg/>", siteChartHTML: "<svg/>", tables: [], csvURL: "/x.csv", pdfURL: "/x.pdf",
                                                empty: false),
            IndicatorsController.IndicatorsPage.Table(title: "t", header: ["h"], rows: [["r"]]),
            IndicatorsController.IndicatorsPage.Figure(label: "l", value: "v"),
            ResearchExtractController.ResearchPage(communityName: "C", communityURL: "/c", action: "/a", from: "2026-01-01", to: "2026-12-31"),
            MeetingController.AgendaContent(meeting: ViewFields([:]), rowsHTML: "<tr></tr>", hasItems: true, slotMinutes: "5", mayReorder: true),
            DashboardController.DashboardContent.CommunityItem(name: "N", region: "R", url: "/", kind: "k", role: "r", suspended: false, acceptURL: "/"),
            CommunityController.CommunityContent(
                community: ViewFields([:]), isAdministrator: true, invitation: true, isActiveMember: true, members: [], organisations: [],
                patients: [], emergencyGrants: [], roleOptions: [], organisationOptions: [], links: ViewFields([:]), error: "e",
                registration: ViewFields([:]), psc: ViewFields([:])),
            AdminController.CommunitiesContent(communities: [], kinds: [], values: ViewFields([:]), error: "e"),
            AuditPage.AuditContent(scopeName: "s", formAction: "/", filters: ViewFields([:]), events: [], actions: []),
            PatientController.NewPatientContent(communities: [], values: ViewFields([:]), errors: ["e"], identityDeskURL: "/admin/patients/merge", matches: [], sexOptions: [], statusOptions: [], documentOptions: [], insKindOptions: []),
            PatientController.PatientContent(
                patientID: "p", name: "n", identity: ViewFields([:]), identityProofs: [], identityDesk: ViewFields([:]), localIDs: [], heldCases: [], importedRCP: [], accessAllowed: true, accessMessage: "m",
                breakTheGlass: true, emergencyURL: "/", careLinks: [], oppositions: [], mayDeclareCare: true, mayWriteAdministrative: true,
                mayReadAuditTrail: true, oppositionTargets: [], openCaseCommunities: [], links: ViewFields([:])),
            EmergencyAccessController.EmergencyContent(
                patientID: "p", name: "n", refusal: "r", reasonCodes: [], justification: "j", error: "e", needsConfirmation: true,
                overridePossible: true, hours: "4", actionURL: "/", patientURL: "/"),
            AccessReportController.AccessReportContent(name: "n", events: [], patientURL: "/", csvURL: "/"),
            AdminController.OrganisationsContent(organisations: [], values: ViewFields([:]), error: "e"),
            AdminController.MergeContent(pairs: [], error: "e"),
            ProfessionalsController.ProfessionalsContent(professionals: [], values: ViewFields([:]), specialties: [], organisationOptions: [], roles: [], errors: []),
            DocumentController.ImportPage(caseURL: "/c", results: [], askConfirmation: true),
            ImagingRefusalPage(message: "m", backURL: "/b", caseURL: "/c"),
            MeetingController.MeetingPage(meeting: ViewFields([:]), isCoordinator: true, moveURL: "/m", cancelURL: "/c", chairURL: "/h", date: "2026-01-01",
                                          time: "14:00", duration: "120", members: []),
            MeetingController.MeetingPage.Member(id: "i", name: "n", selected: true),
            DocumentController.ImportPage.Line(file: "f", status: "imported", label: "l", url: "/d", messages: ["m"]),
            LiveSeanceController.DraftFragment(draft: ViewFields([:])),
            LiveSeanceController.CaseFragment(case: ViewFields([:]), draftURL: "s"),
            LiveSeanceController.StatusFragment(status: ViewFields([:]), presentURL: "s"),
            LiveSeanceController.LivePage(meeting: ViewFields([:]), status: ViewFields([:]), case: ViewFields([:]), presents: true, members: [], recorderURL: "s", recorderName: "s", eventsURL: "s", statusURL: "s", caseFragmentURL: "s", draftURL: "s", presentURL: "s", sessionURL: "s", lastSeq: "s", recorderMode: true),
            ImagingController.ImagingPage(patientName: "s", caseURL: "s", community: "s", actionURL: "s", accessMessage: "s", breakTheGlass: true, notConfigured: true, noIdentifier: true, validated: true, problems: ["s"], failure: "s", severalExchanges: true, exchanges: [], exchangeID: "s", exchangeName: "s", from: "s", to: "s", accession: "s", modalities: [], searched: true, results: [], hasResults: true, nextURL: "s", previousURL: "s", attached: [], hasAttached: true, returnPath: "s", mayWrite: true),
            MeetingSessionController.SessionPage(meeting: ViewFields([:]), runs: true, quorumMet: true, quorumCount: "s", quorumMinimum: "s", quorumMissing: "s", quorumRule: "s", members: [], guests: [], guestSpecialties: [], attendanceURL: "s", currentURL: "s", agenda: [], currentCase: ViewFields([:])),
            MeetingController.MeetingFormPage(isSeries: true, action: "s", errors: ["s"], values: ViewFields([:]), communities: [], kinds: [], organs: [], weekdays: [], ordinals: [], monthly: true, disciplines: [], completenessChecks: []),
            MeetingController.MeetingsPage(upcoming: [], past: [], series: [], mayPlan: true, hasFeed: true, newFeedURL: "s"),
            DocumentController.DocumentPage(carePlan: ViewFields([:]), title: "s", type: "s", typeCode: "s", date: "s", version: "s", documentID: "s", patientName: "s", patientURL: "s", caseURL: "s", authors: "s", custodian: "s", legalAuthenticator: "s", studies: ["s"], hasStudies: true, tnm: "s", sections: [], nonXML: "s", sha256: "s", bytes: "s", importedBy: "s", importedAt: "s", source: "s", superseded: "s", originalURL: "s", pdfURL: "s", hasVersions: true, versions: [], warnings: ["s"], hasWarnings: true, accessMessage: "s"),
            CaseController.CaseFormPage(action: "s", errors: ["s"], values: ViewFields([:]), communities: [], hidden: [], conflict: ViewFields([:]), newEdition: true, tnmSource: ViewFields([:]), reasons: [], discoveries: [], lateralities: [], performances: [], phases: [], sites: []),
            CaseController.CasePage(patientName: "s", patientURL: "s", birthDate: "s", community: "s", status: "s", statusCode: "s", validated: true, edition: "s", createdBy: "s", createdAt: "s", updatedAt: "s", updatedBy: "s", validatedAt: "s", validatedBy: "s", meeting: ViewFields([:]), content: ViewFields([:]), decision: ViewFields([:]), editURL: "s", registerURL: "s", meetingOptions: [], withdrawURL: "s", duplicateURL: "s", validateURL: "s", completeness: ViewFields([:]), followUp: ViewFields([:]), editions: [], accessMessage: "s", breakTheGlass: true, documents: [], hasDocuments: true, uploadURL: "s", imagingURL: "s", caseURL: "s", ficheXMLURL: "s", fichePDFURL: "s", attached: [], hasAttached: true, returnPath: "s", imagingUnavailable: true),
        ]
        return values.map(SampleModel.init)
    }

    @Test func userInputIsEscapedInPages() async throws {
        try await withTestApp { browser, _ in
            try await browser.get("/login")
            let hostile = #""><script>alert(1)</script>"#
            let page = try await browser.post("/login", form: [("email", hostile), ("password", "x")])
            #expect(!page.text.contains("<script>alert(1)</script>"))
            #expect(page.text.contains("&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"))
        }
    }
}

@Suite struct AgendaRowsTests {
    @Test func rowsEscapeEveryValueAndOfferReorderingOnlyWhenAllowed() {
        let item = AgendaItem(caseID: UUID(), patientID: UUID(), patientName: "O'BRIEN <script>", birthDate: CalendarDate(iso: "1960-01-02")!,
                              position: 1, status: .registered, tumourSiteCode: "C34.1", presenterName: "Dr \"X\" & Y")
        let plain = AgendaRows(startsAt: LocalTime(hour: 14, minute: 0)!, slotMinutes: 20, statusLabels: [.registered: "inscrit"], reorder: nil)
        let html = plain.html([item, item])
        #expect(html.contains("O&#39;BRIEN &lt;script&gt;"))
        #expect(!html.contains("<script>"))
        #expect(html.contains("Dr &quot;X&quot; &amp; Y"))
        #expect(html.contains("<td>14:00</td>"))
        #expect(html.contains("<td>14:20</td>"))
        #expect(html.contains("02/01/1960"))
        #expect(!html.contains("<form"))
        let reorder = AgendaRows(startsAt: LocalTime(hour: 14, minute: 0)!, slotMinutes: 20, statusLabels: [:],
                                 reorder: .init(meetingID: UUID(), csrfToken: "tok", up: "Monter", down: "Descendre")).html([item, item])
        // The first row moves down only, the last up only.
        #expect(reorder.components(separatedBy: "data-test=\"move-up\"").count == 2)
        #expect(reorder.components(separatedBy: "data-test=\"move-down\"").count == 2)
        #expect(reorder.contains("name=\"_csrf\" value=\"tok\""))
    }
}

/// Arrays and optionals, to find the type of what they hold.
private protocol WrappingType { static var wrappedType: Any.Type { get } }
extension Array: WrappingType { static var wrappedType: Any.Type { Element.self } }
extension Optional: WrappingType { static var wrappedType: Any.Type { Wrapped.self } }
