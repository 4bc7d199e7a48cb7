/// Strings of the exports (fiche CDA and PDF, minutes, activity CSV).
extension Localization {
    static let exportEntries: [String: (fr: String, en: String)] = [
        "audit_action_case_export": ("Export de fiche RCP", "Case export"),
        "audit_action_meeting_minutes_export": ("Export du compte rendu", "Minutes export"),
        "case_export_pdf": ("Fiche PDF", "Case PDF"),
        "minutes_pdf": ("Compte rendu (PDF)", "Minutes (PDF)"),
        "minutes_zip": ("Archive : fiches CDA + PDF et compte rendu (ZIP)", "Archive: fiches CDA + PDF and minutes (ZIP)"),
        "minutes_denied": ("Le compte rendu contient les données cliniques de chaque dossier de la séance : vous n'avez pas accès à %count% d'entre eux (équipe de soins, participation à la séance ou bris de glace).",
                           "The minutes carry every case's clinical data: you may not read %count% of them (care team, meeting participation or break-the-glass)."),
        "audit_action_community_activity_export": ("Export d'activité (CSV)", "Activity export (CSV)"),
        "activity_export": ("Activité (CSV)", "Activity (CSV)"),
        "activity_export_help": ("Une ligne par dossier présenté et décidé, clé patient pseudonyme ; séparateur « ; » pour les tableurs français.",
                                 "One row per presented and decided case, pseudonymous patient key; “;” separator for French spreadsheets."),
        "case_export_cda": ("Télécharger la fiche (CDA R2)", "Download the case (CDA R2)"),
        "case_export_not_validated": ("Seule une fiche validée s'exporte : la proposition de la RCP doit d'abord être validée.",
                                      "Only a validated case is exported: the board's proposal must be validated first."),
    ]
}
