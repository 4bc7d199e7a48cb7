import ConcertoCore
import ConcertoStore
import Crypto
import DICOMweb
import Foundation
import Logging
import Synchronization

/// The imaging exchanges this server queries, the short-lived thumbnail cache, and the
/// rules deciding how a patient is looked up on an exchange. Callers check access first:
/// nothing here knows who is asking.
public final class ImagingService: Sendable {
    public let directory: ExchangeDirectory
    private let clients: [String: DICOMwebClient]
    public let thumbnails: ThumbnailCache

    public init(directory: ExchangeDirectory, logger: Logger, thumbnailLifetime: TimeInterval = 300) {
        self.directory = directory
        clients = Dictionary(uniqueKeysWithValues: directory.exchanges.map { ($0.id, DICOMwebClient(exchange: $0, logger: logger)) })
        thumbnails = ThumbnailCache(lifetime: thumbnailLifetime, capacity: 512)
    }

    public var isConfigured: Bool { !directory.exchanges.isEmpty }

    public func client(_ exchangeID: String) -> DICOMwebClient? { clients[exchangeID] }

    /// Exchanges that failed recently and have not answered since.
    public var failingExchanges: [ExchangeConfiguration] {
        directory.exchanges.filter { clients[$0.id]?.breaker.failingSince != nil }
    }

    /// How the exchange knows the patient: the INS with its OID as issuer when the identity
    /// is qualified (the identity rules allow the INS as an identifier only then, and
    /// exchanges index shared images by it); otherwise the local IPPs, each issued by its
    /// organisation's FINESS (read only in that case). Empty: the patient cannot be looked up.
    public static func identifiers(of patient: PatientRecord, patients: PatientStore) async throws -> [PatientIdentifier] {
        if patient.identity.status == .qualified, let ins = patient.identity.ins {
            return [PatientIdentifier(id: ins.matricule, issuer: ins.oid)]
        }
        return try await patients.localIdentifiers(of: patient.id).map { PatientIdentifier(id: $0.ipp, issuer: $0.finess) }
    }

    /// The patient's studies on one exchange, under each of their identifiers, newest
    /// first; only those whose identifier and traits are the patient's (see `ownershipMismatch`).
    public func search(_ query: StudyQuery, identifiers: [PatientIdentifier], identity: PatientIdentity, on client: DICOMwebClient) async throws(DICOMwebError) -> [StudySummary] {
        var found: [String: StudySummary] = [:]
        for identifier in identifiers {
            var query = query
            query.patient = identifier
            for study in try await client.searchStudies(query) where found[study.studyInstanceUID] == nil
                && study.ownershipMismatch(identifiers: identifiers, birthDate: identity.birthDate, sex: identity.sex) == nil {
                found[study.studyInstanceUID] = study
            }
        }
        return found.values.sorted(by: StudySummary.newestFirst)
    }

    public enum LookUp: Sendable {
        case found(StudyReference)
        case notFound
        /// The exchange returned it, but it is not this patient's.
        case notThisPatients(StudySummary.OwnershipMismatch)
    }

    /// The study if it is this patient's on that exchange, with the series thumbnails show.
    /// A UID of another patient's study finds nothing, or is refused with the reason.
    public func lookUp(studyUID: String, identifiers: [PatientIdentifier], identity: PatientIdentity, on client: DICOMwebClient) async throws(DICOMwebError) -> LookUp {
        var match: StudySummary?
        for identifier in identifiers where match == nil {
            match = try await client.study(studyUID, patient: identifier)
        }
        guard let study = match else { return .notFound }
        if let mismatch = study.ownershipMismatch(identifiers: identifiers, birthDate: identity.birthDate, sex: identity.sex) {
            return .notThisPatients(mismatch)
        }
        // The key series is a convenience: its absence does not stop the attachment.
        let keySeries = try? await SeriesSummary.keySeries(client.series(ofStudy: study.studyInstanceUID))
        return .found(StudyReference(
            exchangeID: client.exchange.id, studyUID: study.studyInstanceUID, accessionNumber: study.accessionNumber, studyDate: study.date,
            modalities: study.modalities, description: study.description, seriesCount: study.seriesCount, instanceCount: study.instanceCount,
            keySeriesUID: keySeries?.seriesInstanceUID))
    }

    /// The thumbnail of a study's key series, from the cache when fresh.
    public func thumbnail(of reference: StudyReference, keySeries: String, on client: DICOMwebClient) async throws(DICOMwebError) -> ThumbnailCache.Entry {
        let key = ThumbnailCache.Key(exchangeID: client.exchange.id, studyUID: reference.studyUID, seriesUID: keySeries)
        if let cached = thumbnails.get(key) { return cached }
        let image = try await client.thumbnail(study: reference.studyUID, series: keySeries)
        return thumbnails.put(key, image)
    }
}

/// Thumbnails kept in memory for a few minutes (never on disk), with their ETag.
public final class ThumbnailCache: Sendable {
    public struct Key: Hashable, Sendable {
        let exchangeID: String
        let studyUID: String
        let seriesUID: String
    }

    public struct Entry: Sendable {
        public let image: RenderedImage
        public let etag: String
        public let expires: Date
    }

    private let lifetime: TimeInterval
    private let capacity: Int
    private let entries = Mutex([Key: Entry]())

    public init(lifetime: TimeInterval, capacity: Int) {
        self.lifetime = lifetime
        self.capacity = capacity
    }

    public func get(_ key: Key, at now: Date = Date()) -> Entry? {
        entries.withLock { entries in
            guard let entry = entries[key] else { return nil }
            if entry.expires <= now {
                entries[key] = nil
                return nil
            }
            return entry
        }
    }

    @discardableResult
    public func put(_ key: Key, _ image: RenderedImage, at now: Date = Date()) -> Entry {
        let digest = SHA256.hash(data: image.bytes).prefix(12).map { String(format: "%02x", $0) }.joined()
        let entry = Entry(image: image, etag: "\"\(digest)\"", expires: now.addingTimeInterval(lifetime))
        entries.withLock { entries in
            if entries.count >= capacity {
                // Drop the expired, then the soonest to expire: bounded memory.
                entries = entries.filter { $0.value.expires > now }
                if entries.count >= capacity, let oldest = entries.min(by: { $0.value.expires < $1.value.expires })?.key {
                    entries[oldest] = nil
                }
            }
            entries[key] = entry
        }
        return entry
    }

    public var count: Int { entries.withLock { $0.count } }
}
