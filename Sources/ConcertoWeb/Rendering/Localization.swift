import Foundation
import ConcertoCore

/// Interface strings, French first. Templates read them as `{{t.key}}`; Swift code
/// through `Localization.text(_:in:)`. A test checks every key used by a template exists
/// in both languages.
public enum Localization {
    static let entries: [String: (fr: String, en: String)] = [
        "app_name": ("Concerto", "Concerto"),
        "app_tagline": ("Réunions de concertation pluridisciplinaire", "Multidisciplinary tumour boards"),
        "skip_link": ("Aller au contenu", "Skip to content"),
        "nav_label": ("Navigation principale", "Main navigation"),
        "nav_home": ("Tableau de bord", "Dashboard"),
        "nav_account": ("Mon compte", "My account"),
        "nav_logout": ("Se déconnecter", "Log out"),
        "nav_login": ("Se connecter", "Log in"),
        "signed_in_as": ("Connecté·e :", "Signed in as"),
        "language_label": ("Langue", "Language"),
        "language_submit": ("Changer", "Change"),
        "language_fr": ("Français", "Français"),
        "language_en": ("English", "English"),
        "footer_text": ("Concerto — données de santé : accès tracé, réservé à l'équipe de soins.",
                        "Concerto — health data: access is traced and limited to the care team."),

        "login_title": ("Connexion", "Log in"),
        "login_intro": ("Connectez-vous avec votre compte professionnel.", "Log in with your professional account."),
        "login_email": ("Adresse e-mail", "E-mail address"),
        "login_password": ("Mot de passe", "Password"),
        "login_submit": ("Se connecter", "Log in"),
        "login_error_invalid": ("Adresse e-mail ou mot de passe incorrect.", "Incorrect e-mail address or password."),
        "login_error_missing": ("Saisissez votre adresse e-mail et votre mot de passe.", "Enter your e-mail address and password."),
        "login_error_locked": ("Ce compte est verrouillé après {failures} tentatives de connexion infructueuses. Réessayez dans {minutes} minute(s) ou contactez votre administrateur.",
                               "This account is locked after {failures} failed login attempts. Try again in {minutes} minute(s) or contact your administrator."),

        "totp_title": ("Vérification en deux étapes", "Two-step verification"),
        "totp_intro": ("Saisissez le code à 6 chiffres affiché par votre application d'authentification.",
                       "Enter the 6-digit code shown by your authenticator app."),
        "totp_code": ("Code de vérification", "Verification code"),
        "totp_submit": ("Vérifier", "Verify"),
        "totp_error_disable": ("Mot de passe ou code incorrect : la double authentification reste active.", "Wrong password or code: two-factor authentication stays on."),
        "login_error_too_many": ("Trop de tentatives de connexion depuis cette adresse : réessayez dans {seconds} secondes.", "Too many login attempts from this address: try again in {seconds} seconds."),
        "totp_error_invalid": ("Code incorrect ou expiré.", "Incorrect or expired code."),
        "totp_error_expired": ("La vérification a expiré : reconnectez-vous.", "Verification timed out: please log in again."),

        "dashboard_title": ("Tableau de bord", "Dashboard"),
        "dashboard_welcome": ("Bonjour", "Hello"),
        "dashboard_communities": ("Vos communautés de partage", "Your sharing communities"),
        "dashboard_no_communities": ("Vous n'appartenez à aucune communauté pour le moment.", "You do not belong to any community yet."),
        "dashboard_region": ("Région", "Region"),

        "account_title": ("Mon compte", "My account"),
        "account_profile": ("Profil", "Profile"),
        "account_name": ("Nom", "Name"),
        "account_email": ("Adresse e-mail", "E-mail address"),
        "account_rpps": ("N° RPPS", "RPPS number"),
        "account_specialty": ("Spécialité", "Specialty"),
        "account_role": ("Profil", "Role"),
        "account_none": ("non renseigné", "not set"),
        "account_totp_title": ("Double authentification (TOTP)", "Two-factor authentication (TOTP)"),
        "account_totp_on": ("Activée : un code vous est demandé à chaque connexion.", "On: a code is asked at every login."),
        "account_totp_off": ("Désactivée.", "Off."),
        "account_totp_enable": ("Activer la double authentification", "Turn on two-factor authentication"),
        "account_totp_disable": ("Désactiver", "Turn off"),
        "account_totp_disable_code": ("Code actuel pour confirmer", "Current code to confirm"),
        "account_totp_disable_password": ("Votre mot de passe", "Your password"),
        "totp_enrol_title": ("Activer la double authentification", "Turn on two-factor authentication"),
        "totp_enrol_intro": ("Ajoutez un compte dans votre application d'authentification (FreeOTP, Aegis, Google Authenticator…) avec la clé ci-dessous, puis saisissez le code qu'elle affiche.",
                             "Add an account in your authenticator app (FreeOTP, Aegis, Google Authenticator…) with the key below, then enter the code it shows."),
        "totp_enrol_secret": ("Clé à saisir", "Key to enter"),
        "totp_enrol_uri": ("Ou ce lien otpauth", "Or this otpauth link"),
        "totp_enrol_confirm": ("Confirmer l'activation", "Confirm"),

        "flash_logged_out": ("Vous êtes déconnecté·e.", "You are logged out."),
        "flash_logged_in": ("Connexion réussie.", "You are logged in."),
        "flash_totp_enabled": ("Double authentification activée.", "Two-factor authentication is on."),
        "flash_totp_disabled": ("Double authentification désactivée.", "Two-factor authentication is off."),
        "flash_session_expired": ("Votre session a expiré : reconnectez-vous.", "Your session has expired: please log in again."),
        "flash_login_required": ("Connectez-vous pour accéder à cette page.", "Log in to see this page."),
        "flash_language_changed": ("Langue modifiée.", "Language changed."),
        "login_error_disabled": ("Ce compte est désactivé. Contactez l'administrateur de la plateforme.", "This account is disabled. Contact the platform's administrator."),
        "account_password_title": ("Mot de passe", "Password"),
        "account_password_current": ("Mot de passe actuel", "Current password"),
        "account_password_new": ("Nouveau mot de passe", "New password"),
        "account_password_confirm": ("Nouveau mot de passe, à nouveau", "New password, again"),
        "account_password_hint": ("Au moins 10 caractères. Vos autres sessions (autres navigateurs, autres postes) seront fermées.",
                                  "At least 10 characters. Your other sessions (other browsers, other computers) will be closed."),
        "account_password_submit": ("Changer le mot de passe", "Change password"),
        "password_error_current": ("Mot de passe actuel incorrect : rien n'a été changé.", "Wrong current password: nothing was changed."),
        "password_error_short": ("Le nouveau mot de passe doit compter au moins 10 caractères.", "The new password must be at least 10 characters long."),
        "password_error_long": ("Le nouveau mot de passe ne doit pas dépasser 72 octets.", "The new password must not exceed 72 bytes."),
        "password_error_mismatch": ("Les deux saisies du nouveau mot de passe diffèrent.", "The two entries of the new password differ."),
        "flash_password_changed": ("Mot de passe changé. Vos autres sessions ont été fermées.", "Password changed. Your other sessions were closed."),
        "second_factor_required": ("Votre rôle exige la double authentification : activez-la pour continuer.", "Your role requires two-factor authentication: turn it on to go on."),
        "reset_title": ("Choisir un mot de passe", "Choose a password"),
        "reset_intro": ("Ce lien ne sert qu'une fois. Choisissez le mot de passe de {email}.", "This link works once. Choose the password of {email}."),
        "reset_invalid": ("Ce lien n'est plus valable (déjà utilisé ou expiré). Demandez-en un nouveau à l'administrateur de la plateforme.",
                          "This link is no longer valid (already used or expired). Ask the platform's administrator for a new one."),
        "flash_password_reset": ("Mot de passe enregistré : connectez-vous.", "Password saved: log in."),
        "professional_status": ("État", "Status"),
        "professional_active": ("actif", "active"),
        "professional_disabled": ("désactivé", "disabled"),
        "professional_disable": ("Désactiver", "Disable"),
        "professional_enable": ("Réactiver", "Enable"),
        "professional_error_own_account": ("Vous ne pouvez pas désactiver votre propre compte.", "You cannot disable your own account."),
        "flash_professional_disabled": ("Compte désactivé : ses sessions sont fermées.", "Account disabled: its sessions are closed."),
        "flash_professional_enabled": ("Compte réactivé.", "Account enabled."),

        "error_back": ("Retour à l'accueil", "Back to the home page"),
        "error_reference": ("Référence de la requête", "Request reference"),
        "error_400_title": ("Requête invalide", "Bad request"),
        "error_400_text": ("La requête n'a pas pu être comprise. Vérifiez le formulaire et réessayez.", "The request could not be understood. Check the form and try again."),
        "error_401_title": ("Connexion requise", "Login required"),
        "error_401_text": ("Connectez-vous pour accéder à cette page.", "Log in to see this page."),
        "error_403_title": ("Accès refusé", "Access denied"),
        "error_403_text": ("Vous n'avez pas le droit d'accéder à cette page.", "You are not allowed to see this page."),
        "error_403_csrf": ("Le formulaire a expiré ou n'est pas valide. Rechargez la page et recommencez : rien n'a été enregistré.",
                           "The form has expired or is not valid. Reload the page and try again: nothing was saved."),
        "error_404_title": ("Page introuvable", "Page not found"),
        "error_404_text": ("Cette page n'existe pas ou a été déplacée.", "This page does not exist or has moved."),
        "error_413_title": ("Contenu trop volumineux", "Content too large"),
        "error_413_text": ("Les données envoyées dépassent la taille autorisée. Rien n'a été enregistré.", "The data sent is larger than allowed. Nothing was saved."),
        "error_415_text": ("Ce formulaire n'accepte pas de fichiers. Rien n'a été enregistré.", "This form does not take files. Nothing was saved."),
        "error_500_title": ("Erreur interne", "Internal error"),
        "error_500_text": ("Une erreur inattendue s'est produite. Elle a été enregistrée ; réessayez dans un instant.", "An unexpected error occurred. It has been logged; try again in a moment."),
        "error_503_title": ("Service momentanément indisponible", "Service temporarily unavailable"),
        "error_503_text": ("La base de données ne répond pas. Réessayez dans quelques instants.", "The database is not responding. Try again in a few moments."),

        "role_admin": ("Administrateur", "Administrator"),
        "role_coordinator": ("Coordination", "Coordinator"),
        "role_physician": ("Médecin", "Physician"),
        "role_secretary": ("Secrétariat", "Secretary"),
    ]

    /// Every table, by name. A key is defined once in all of them (a test checks it): were
    /// it defined twice, one text would win unseen.
    static let sections: [(name: String, entries: [String: (fr: String, en: String)])] = [
        ("Localization", entries), ("Access", accessEntries), ("Workflow", workflowEntries), ("Documents", documentEntries),
        ("Imaging", imagingEntries), ("Exports", exportEntries), ("PSC", pscEntries), ("Live", liveEntries), ("FollowUp", followUpEntries),
    ]

    static let tables: [AppLanguage: [String: String]] = {
        var tables: [AppLanguage: [String: String]] = [:]
        for language in AppLanguage.allCases {
            var table: [String: String] = [:]
            for section in sections {
                for (key, text) in section.entries where table[key] == nil { table[key] = language == .fr ? text.fr : text.en }
            }
            tables[language] = table
        }
        return tables
    }()

    public static func table(_ language: AppLanguage) -> [String: String] {
        tables[language] ?? [:]
    }

    /// The text for `key`, with `{name}` placeholders replaced.
    public static func text(_ key: String, in language: AppLanguage, _ arguments: [String: String] = [:]) -> String {
        let text = table(language)[key] ?? key
        return arguments.isEmpty ? text : fill(text, with: arguments)
    }

    /// One pass over the text: a value that itself contains `{name}` stays as it is (one
    /// `replacingOccurrences` per argument, as before, substituted into earlier values in
    /// whatever order the dictionary gave, and went through NSString: 1.4 % of the agenda
    /// page's CPU). A placeholder without an argument stays in the text.
    static func fill(_ text: String, with arguments: [String: String]) -> String {
        var result = ""
        result.reserveCapacity(text.utf8.count + 32)
        var rest = text[...]
        while let open = rest.utf8.firstIndex(of: UInt8(ascii: "{")) {
            result += rest[..<open]
            let afterOpen = rest.utf8.index(after: open)
            guard let close = rest.utf8[afterOpen...].firstIndex(of: UInt8(ascii: "}")) else {
                rest = rest[open...]
                break
            }
            if let value = arguments[String(rest[afterOpen..<close])] {
                result += value
                rest = rest[rest.utf8.index(after: close)...]
            } else {
                result += "{"
                rest = rest[afterOpen...]
            }
        }
        result += rest
        return result
    }
}
