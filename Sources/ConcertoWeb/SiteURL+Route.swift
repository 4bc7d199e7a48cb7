import ConcertoCore
import Foundation
import Hummingbird

/// The router's patterns come from the same `SiteURL` the pages link with, so a route and
/// its links cannot disagree. Path parameters are named after what they identify:
/// `/cases/{case}/imaging/{study}/viewer`, `/communities/{community}/members/{user}/approve`.
extension SiteURL {
    public enum Parameter: String, Sendable, CaseIterable {
        case `case`, meeting, patient, community, document, organisation, request, user, study, link, opposition, token

        /// The identifier after a collection's segment: `/cases/{case}`.
        init?(collection: Substring) {
            switch collection {
            case "cases", "agenda": self = .case
            case "meetings": self = .meeting
            case "patients": self = .patient
            case "communities": self = .community
            case "documents": self = .document
            case "organisations": self = .organisation
            case "access-requests": self = .request
            case "professionals", "members": self = .user
            case "imaging": self = .study
            case "care-team": self = .link
            case "oppositions": self = .opposition
            default: return nil
            }
        }
    }

    /// A route without parameters.
    static func route(_ url: SiteURL) -> RouterPath {
        RouterPath(url.path)
    }

    /// A route with one or two identifiers: `make` builds the URL from them.
    static func route(_ make: (UUID, UUID) -> SiteURL) -> RouterPath {
        RouterPath(pattern(make))
    }

    /// A route whose parameter is a string (a calendar feed's token).
    static func route(_ parameter: Parameter, _ make: (String) -> SiteURL) -> RouterPath {
        RouterPath(make("{\(parameter.rawValue)}").path)
    }

    /// The pattern of a parameterised route: each identifier becomes `{name}`, named after
    /// the collection its segment follows. An identifier after a segment this does not
    /// know stops the server at start-up (every route is registered then, and tested).
    static func pattern(_ make: (UUID, UUID) -> SiteURL) -> String {
        let first = UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1))
        let second = UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2))
        let segments = make(first, second).path.split(separator: "/", omittingEmptySubsequences: false)
        var named: [Substring] = []
        for (index, segment) in segments.enumerated() {
            var segment = segment
            for placeholder in [first.storageKey, second.storageKey] where segment.contains(placeholder) {
                guard index > 0, let parameter = Parameter(collection: segments[index - 1]) else {
                    preconditionFailure("No parameter name for the segment after \(segments[max(0, index - 1)]): add it to SiteURL.Parameter")
                }
                segment = Substring(segment.replacingOccurrences(of: placeholder, with: "{\(parameter.rawValue)}"))
            }
            named.append(segment)
        }
        return named.joined(separator: "/")
    }
}

extension Parameters {
    /// A UUID path parameter; anything else is a page that does not exist.
    func uuid(_ parameter: SiteURL.Parameter) throws -> UUID {
        guard let raw = get(parameter.rawValue), let id = UUID(storageKey: raw) else { throw AppError.notFound }
        return id
    }
}

/// Links with a query, built here so that no controller glues `?key=` onto a path.
extension SiteURL {
    /// This path with `query`, its values percent-encoded; nil values are left out.
    func with(_ query: KeyValuePairs<String, String?>) -> String {
        var components = URLComponents()
        components.path = path
        let items = query.compactMap { name, value in value.map { URLQueryItem(name: name, value: $0) } }
        components.queryItems = items.isEmpty ? nil : items
        return components.string ?? path
    }

    /// A new fiche for a patient, copying `source`'s content when given.
    static func caseNew(patient: UUID, from source: UUID? = nil) -> String {
        SiteURL.caseNew.with(["patient": patient.storageKey, "from": source?.storageKey])
    }

    /// The fiche search narrowed to one meeting's agenda.
    static func cases(meeting: UUID) -> String {
        SiteURL.cases.with(["meeting": meeting.storageKey])
    }

    /// The new patient form with a community chosen.
    static func newPatient(community: UUID) -> String {
        SiteURL.newPatient.with(["community": community.storageKey])
    }

    /// A community's indicators page or download for a period (last day inclusive).
    func period(from first: CalendarDate, through last: CalendarDate) -> String {
        with(["from": first.iso, "to": last.iso])
    }
}
