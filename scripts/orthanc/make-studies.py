#!/usr/bin/env python3
"""Synthetic imaging studies for the demo and test patients (the exchange's content).

Writes one DICOM file per instance under OUT/dicom/ and OUT/manifest.json describing every
study (patient INS, study UID, date, modalities, series and instance counts) for the tests.
PatientID is the patient's INS and IssuerOfPatientID the OID of test INS, as a regional
exchange indexes them. UIDs are derived from names, so they are the same on every run;
dates are relative to today (priors spread over three years, one older study).

    make-studies.py OUT_DIR
"""
import datetime
import hashlib
import json
import math
import os
import sys

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian

TEST_INS_OID = "1.2.250.1.213.1.4.10"
SOP_CLASSES = {
    "CT": "1.2.840.10008.5.1.4.1.1.2",
    "MR": "1.2.840.10008.5.1.4.1.1.4",
    "PT": "1.2.840.10008.5.1.4.1.1.128",
    "MG": "1.2.840.10008.5.1.4.1.1.1.2",
}


def uid(name: str) -> str:
    """A 2.25 UID (ISO/IEC 9834-8) derived from a stable name."""
    return "2.25." + str(int(hashlib.sha256(name.encode()).hexdigest()[:30], 16))


# (INS, DICOM name, birth date, sex)
PATIENTS = {
    "marie": ("261053306312304", "DUPONT^Marie Louise", "19610512", "F"),
    "louise": ("278023306304574", "BERNARD^Louise", "19780214", "F"),
    "paul": ("145078619401282", "LEROY^Paul Andre", "19450708", "M"),
    "dominique": ("279035121518989", "PAT-TROIS^DOMINIQUE MARIE-LOUISE", "19790328", "F"),
}

# (patient, key, days before today or a fixed date, accession, description, [(modality, series description, instances)])
STUDIES = [
    ("marie", "ct-thorax", 20, "ACC-M-0001", "TDM thoraco-abdomino-pelvienne injectée",
     [("CT", "Thorax parenchyme", 4), ("CT", "Abdomen portal", 3)]),
    ("marie", "pet", 12, "ACC-M-0002", "TEP-TDM au 18F-FDG",
     [("PT", "TEP corps entier", 4), ("CT", "TDM de repérage", 2)]),
    ("marie", "mr-brain", 10, "ACC-M-0003", "IRM cérébrale (bilan d'extension)",
     [("MR", "T1 gadolinium", 3), ("MR", "FLAIR", 3)]),
    ("marie", "ct-prior", 400, "ACC-M-0004", "TDM thoracique de dépistage", [("CT", "Thorax faible dose", 3)]),
    ("marie", "ct-prior-2", 900, "ACC-M-0005", "TDM thoracique", [("CT", "Thorax", 2)]),
    ("marie", "ct-old", 1500, "ACC-M-0006", "Radiographie et TDM anciennes", [("CT", "Thorax", 2)]),
    ("louise", "mg", 60, "ACC-L-0001", "Mammographie bilatérale de dépistage", [("MG", "Mammographie", 4)]),
    ("louise", "mr-breast", 30, "ACC-L-0002", "IRM mammaire", [("MR", "T1 dynamique", 3), ("MR", "T2", 2)]),
    ("louise", "mg-prior", 800, "ACC-L-0003", "Mammographie de dépistage", [("MG", "Mammographie", 4)]),
    ("paul", "ct-abdomen", 45, "ACC-P-0001", "TDM abdomino-pelvienne", [("CT", "Abdomen", 3)]),
    ("dominique", "ct-recent", 25, "ACC-D-0001", "TDM thoracique de contrôle", [("CT", "Thorax", 3)]),
]

# The studies that the public imaging report (IMG_CR_IMG_2024.01.xml) references, on
# 2021-01-08: the first two exist on the exchange, the third does not.
REPORT_STUDIES = [
    ("dominique", "1.2.250.1.925.994044.27.123.1876360", "105234751", "Scanner thoraco-abdomino-pelvien", [("CT", "TAP", 3)]),
    ("dominique", "1.2.250.1.925.994044.27.123.1876361", "105234752", "IRM abdominale", [("MR", "Abdomen T2", 2)]),
]


def pixels(modality: str, seed: int, size: int = 128) -> bytes:
    """An 8-bit picture that looks vaguely like its modality: an ellipse 'body' with rings."""
    out = bytearray(size * size)
    c = size / 2
    for y in range(size):
        for x in range(size):
            dx, dy = (x - c) / (c * 0.85), (y - c) / (c * (0.6 if modality != "MG" else 0.9))
            r = math.hypot(dx, dy)
            if modality == "MG":
                dx = x / size
                r = math.hypot(dx, dy)
            if r < 1:
                v = 90 + 60 * math.cos(r * (6 + seed % 5)) + (seed * 37 + x * y) % 23
                if modality == "PT" and math.hypot(x - c * 0.7, y - c * 0.8) < 8 + seed % 4:
                    v = 250
            else:
                v = 5
            out[y * size + x] = max(0, min(255, int(v)))
    return bytes(out)


def write_instance(path, patient, study_uid, study_date, accession, study_desc, series_uid, series_number,
                   modality, series_desc, instance_uid, instance_number):
    ins, name, birth, sex = PATIENTS[patient]
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SOP_CLASSES[modality]
    meta.MediaStorageSOPInstanceUID = instance_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = uid("concerto-make-studies")
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = SOP_CLASSES[modality]
    ds.SOPInstanceUID = instance_uid
    ds.PatientName = name
    ds.PatientID = ins
    ds.IssuerOfPatientID = TEST_INS_OID
    ds.PatientBirthDate = birth
    ds.PatientSex = sex
    ds.StudyInstanceUID = study_uid
    ds.StudyDate = study_date
    ds.StudyTime = "093000"
    ds.AccessionNumber = accession
    ds.StudyDescription = study_desc
    ds.StudyID = accession[-4:]
    ds.ReferringPhysicianName = ""
    ds.InstitutionName = "Centre d'imagerie de démonstration"
    ds.SeriesInstanceUID = series_uid
    ds.SeriesNumber = series_number
    ds.SeriesDescription = series_desc
    ds.Modality = modality
    ds.InstanceNumber = instance_number
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = ds.Columns = 128
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    ds.PixelData = pixels(modality, instance_number + series_number * 7)
    ds.save_as(path, enforce_file_format=True)


def main():
    out = sys.argv[1]
    os.makedirs(os.path.join(out, "dicom"), exist_ok=True)
    today = datetime.date.today()
    manifest = []
    all_studies = [(p, uid(f"study/{p}/{k}"), (today - datetime.timedelta(days=d)).strftime("%Y%m%d"), acc, desc, series)
                   for p, k, d, acc, desc, series in STUDIES]
    all_studies += [(p, u, "20210108", acc, desc, series) for p, u, acc, desc, series in REPORT_STUDIES]
    count = 0
    for patient, study_uid, study_date, accession, desc, series in all_studies:
        entry = {"patient": patient, "ins": PATIENTS[patient][0], "issuer": TEST_INS_OID, "studyInstanceUID": study_uid,
                 "studyDate": study_date, "accessionNumber": accession, "description": desc,
                 "modalities": sorted({m for m, _, _ in series}), "series": []}
        for number, (modality, series_desc, instances) in enumerate(series, start=1):
            series_uid = uid(f"series/{study_uid}/{number}")
            entry["series"].append({"seriesInstanceUID": series_uid, "modality": modality, "description": series_desc,
                                    "instances": instances})
            for i in range(1, instances + 1):
                instance_uid = uid(f"instance/{series_uid}/{i}")
                write_instance(os.path.join(out, "dicom", f"{count:04d}.dcm"), patient, study_uid, study_date, accession, desc,
                               series_uid, number, modality, series_desc, instance_uid, i)
                count += 1
        manifest.append(entry)
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump({"generated": today.isoformat(), "studies": manifest}, f, indent=1, ensure_ascii=False)
    print(f"make-studies: {len(manifest)} studies, {count} instances in {out}")


if __name__ == "__main__":
    main()
