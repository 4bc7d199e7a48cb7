import ConcertoCore
import ConcertoServices
import ConcertoStore
import Foundation

/// Imaging studies attached to a fiche, as its pages show them.
enum StudyPresentation {
    /// The attached studies as the case page, this tab, the agenda and the séance show them.
    static func attachedFields(_ attached: [AttachedStudy], caseID: UUID, mayDetach: Bool, imaging: ImagingService, pages: PageBuilder) -> [ViewFields] {
        attached.map { study in
            let reference = study.reference
            let exchange = imaging.directory.exchange(id: reference.exchangeID)
            return ViewFields([
                "date": reference.studyDate?.french, "modalities": reference.modalities.joined(separator: ", "), "description": reference.description,
                "accession": reference.accessionNumber, "uid": reference.studyUID, "note": study.note,
                "series": reference.seriesCount.map(String.init), "instances": reference.instanceCount.map(String.init),
                "exchange": exchange?.name ?? reference.exchangeID, "attachedBy": study.attachedByName,
                "attachedAt": DisplayFormat.dateTime(study.attachedAt),
                "fromDocument": study.documentID.map { SiteURL.document($0).path },
                "thumbnailURL": exchange == nil ? nil : SiteURL.caseImagingThumbnail(caseID, study: study.id).path,
                "viewerURL": exchange?.viewerURLTemplate == nil ? nil : SiteURL.caseImagingViewer(caseID, study: study.id).path,
                "detachURL": mayDetach ? SiteURL.caseImagingDetach(caseID, study: study.id).path : nil,
            ])
        }
    }
}

/// Why a study could not be attached or detached, or a fiche not exported, with the ways
/// back (`imaging_refused`, for the imaging and export controllers).
struct ImagingRefusalPage: Sendable, PageModel {
    let message, backURL, caseURL: String
}
