import Foundation

/// The shared public corpus and schema next to the repository (`../shared`).
enum Shared {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared")
    static let corpus = root.appendingPathComponent("corpus/cda")
    static let schema = root.appendingPathComponent("spec/cda-xsd/CDA_extended.xsd")

    static func document(_ name: String) throws -> Data {
        try Data(contentsOf: corpus.appendingPathComponent(name))
    }

    static var corpusFiles: [URL] {
        (try? FileManager.default.contentsOfDirectory(at: corpus, includingPropertiesForKeys: nil))?
            .filter { $0.pathExtension == "xml" }.sorted { $0.lastPathComponent < $1.lastPathComponent } ?? []
    }
}

/// A small valid CDA document whose body section narrative and header pieces tests choose.
enum MiniCDA {
    static func xml(narrative: String = "<paragraph>Texte</paragraph>", effectiveTime: String = "20240301102000+0100",
                    patientIDs: String = #"<id root="1.2.250.1.213.1.4.10" extension="279035121518989"/>"#,
                    prolog: String = #"<?xml version="1.0" encoding="UTF-8"?>"#, extraHeader: String = "") -> String {
        """
        \(prolog)
        <ClinicalDocument xmlns="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
          <typeId root="2.16.840.1.113883.1.3" extension="POCD_HD000040"/>
          <id root="1.2.3.4.5" extension="doc-1"/>
          <code code="18748-4" codeSystem="2.16.840.1.113883.6.1" displayName="CR d'imagerie"/>
          <title>Scanner thoracique</title>
          <effectiveTime value="\(effectiveTime)"/>
          <confidentialityCode code="N" codeSystem="2.16.840.1.113883.5.25"/>
          <languageCode code="fr-FR"/>
          <setId root="1.2.3.4.6"/>
          <versionNumber value="1"/>
          <recordTarget><patientRole>\(patientIDs)
            <patient><name><family qualifier="BR">DUPONT</family><given>MARIE</given></name>
              <administrativeGenderCode code="F" codeSystem="2.16.840.1.113883.5.1"/><birthTime value="19610305"/></patient>
          </patientRole></recordTarget>
          <author><time value="20240301"/><assignedAuthor><id root="1.2.250.1.71.4.2.1" extension="810000000001"/>
            <assignedPerson><name><family>MARTIN</family><given>Jean</given></name></assignedPerson></assignedAuthor></author>
          <custodian><assignedCustodian><representedCustodianOrganization><id root="1.2.250.1.71.4.2.2" extension="1330781196"/>
            <name>CHU</name></representedCustodianOrganization></assignedCustodian></custodian>
          \(extraHeader)
          <component><structuredBody><component><section>
            <code code="18782-3" codeSystem="2.16.840.1.113883.6.1"/><title>Résultats</title>
            <text>\(narrative)</text>
          </section></component></structuredBody></component>
        </ClinicalDocument>
        """
    }

    static func data(_ xml: String) -> Data { Data(xml.utf8) }
}
