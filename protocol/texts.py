"""What carehub itself says, in French and in English.

Every text the server writes has a stable code and parameters on the wire: a
refusal's ``details.reason`` and details, an error's ``code``, a notice's
``kind`` and fields, the built-in template's ``code``. Clients render them
from these catalogues (``docs/protocol.schema.json`` publishes them under
``texts``); the server renders a refusal's ``message`` in the caller's
locale. French is the default: the product is French first.

A code whose text depends on a count has ``.one`` and ``.other`` forms,
chosen by the ``count`` parameter. ``{name}`` placeholders take parameters;
where a parameter is a user id (``{by}``, ``{user}``), a client puts the
person's name in its place (``users.get``).
"""

from __future__ import annotations

from enum import StrEnum
from string import Formatter
from typing import Any

__all__ = [
    "CATALOGUES",
    "DEFAULT_LOCALE",
    "Locale",
    "has_text",
    "locale_of",
    "placeholders",
    "render",
]


class Locale(StrEnum):
    FR = "fr"
    EN = "en"


DEFAULT_LOCALE = Locale.FR

_FR = {
    # Server notices in a thread (``Notice.kind``).
    "notice.emergency": (
        "carehub n'est pas un service d'urgence. En cas d'urgence, appelez le 15 (SAMU) ou le 112."
    ),
    "notice.auto_reply": "Réponse automatique",
    "notice.closed": "{by} a clos la conversation.",
    "notice.reopened": "{by} a rouvert la conversation.",
    "notice.member_added": "{by} a ajouté {user} à la conversation.",
    "notice.member_removed": "{by} a retiré {user} de la conversation.",
    "notice.retracted": "{by} a retiré un message.",
    # Refusals (``details.reason``): the practice's rules.
    "refusal.not_verified": "Le compte de ce praticien n'est pas encore vérifié.",
    "refusal.not_a_patient": (
        "Vous pourrez écrire à ce praticien une fois devenu son patient"
        " (après un rendez-vous, ou s'il vous invite)."
    ),
    "refusal.not_accepting": "Ce praticien ne reçoit pas de messages de patients.",
    "refusal.not_on_list": "Ce praticien ne reçoit les messages que de certains patients.",
    "refusal.reason_required": "Choisissez le motif de votre demande.",
    "refusal.reason_not_offered": "Ce praticien ne prend pas de demandes pour ce motif.",
    "refusal.thread_closed": "Cette conversation est close.",
    "refusal.reply_not_allowed": "Le dernier message du praticien n'attend pas de réponse.",
    "refusal.open_threads": (
        "Vous avez déjà {limit} demandes en cours avec ce praticien :"
        " attendez une réponse ou écrivez dans l'une d'elles."
    ),
    "refusal.daily_messages": (
        "Vous avez envoyé {limit} messages à ce praticien en 24 heures : réessayez plus tard."
    ),
    "refusal.unavailable": "Ce praticien ne reçoit pas de nouveaux messages pour le moment.",
    "refusal.not_managed": "Vous ne gérez pas le profil de ce proche.",
    "refusal.not_delegated": "Votre délégation ne vous permet pas de le faire.",
    "refusal.not_colleague": "Un délégué est un assistant ou un robot de l'un de vos cabinets.",
    "refusal.bad_scope": "Cette délégation n'est pas valide.",
    "refusal.not_care_team": "Seule l'équipe soignante peut le faire.",
    "refusal.opted_out": "Ce patient ne reçoit pas vos messages collectifs.",
    "refusal.role": "Votre rôle ne permet pas cette action.",
    "refusal.rpps_unknown": "Ce numéro n'est pas dans l'annuaire des professionnels de santé.",
    "refusal.rpps_mismatch": (
        "L'annuaire donne ce numéro à {directory_name}, pas au titulaire de ce compte."
    ),
    "refusal.rpps_required": "Vérifiez ce compte avec son numéro RPPS.",
    "refusal.rpps_taken": "Ce numéro RPPS vérifie déjà un autre compte.",
    # Refusals (``details.reason``): the account's security.
    "refusal.wrong_password": "Mot de passe incorrect.",
    "refusal.second_factor": (
        "Saisissez le code à six chiffres de votre application d'authentification,"
        " ou un code de secours."
    ),
    "refusal.wrong_code": "Ce code est incorrect ou a déjà servi.",
    "refusal.enrol_second_factor": (
        "Votre compte demande une double authentification : activez-la avant de vous connecter."
    ),
    "refusal.deactivated": (
        "Ce compte est désactivé. Contactez l'administrateur de votre service."
    ),
    "refusal.reset_link": (
        "Ce lien de réinitialisation est inconnu, expiré ou a déjà servi : demandez-en un nouveau."
    ),
    "refusal.second_factor_required": (
        "La double authentification est obligatoire pour votre compte."
    ),
    "refusal.second_factor_on": "La double authentification est déjà activée.",
    "refusal.nothing_offered": "Demandez d'abord un nouveau secret, puis saisissez son code.",
    "refusal.own_account": "Vous ne pouvez pas désactiver votre propre compte.",
    "refusal.admin_account": "Le compte d'un administrateur ne se supprime pas de l'intérieur.",
    # Refusals (``details.reason``): the agenda.
    "refusal.past_slot": "Ce créneau est passé.",
    "refusal.outside_hours": "Ce créneau n'est pas proposé.",
    "refusal.too_short_notice": (
        "Ce créneau est trop proche : réservez au moins {min_notice_minutes} minutes à l'avance."
    ),
    "refusal.beyond_horizon": (
        "Ce créneau est trop lointain : réservez au plus {horizon_days} jours à l'avance."
    ),
    "refusal.unknown_reason": "Ce praticien ne propose pas ce type de consultation.",
    "refusal.new_patients": "Ce type de consultation est réservé aux patients du praticien.",
    "refusal.slot_taken": "Ce créneau vient d'être pris : choisissez-en un autre.",
    "refusal.hold_expired": "La réservation provisoire a expiré : réservez à nouveau.",
    "refusal.not_yours": "Ce rendez-vous ne vous appartient pas.",
    "refusal.too_late_to_cancel": (
        "Il est trop tard pour annuler : au plus tard {cancel_notice_hours} heures avant."
    ),
    "refusal.not_agenda": "Vous ne tenez pas cet agenda.",
    "refusal.wrong_status": "Ce rendez-vous ne le permet pas dans son état actuel.",
    "refusal.too_many_holds": "Vous avez déjà {limit} réservations provisoires en cours.",
    # Error codes, when no reason says more.
    "error.invalid": "La demande n'est pas valide.",
    "error.unknown_method": "Cette opération n'existe pas.",
    "error.unauthorized": "Reconnectez-vous.",
    "error.forbidden": "Vous n'y avez pas accès.",
    "error.not_found": "Introuvable.",
    "error.conflict": "Cela vient de changer : réessayez.",
    "error.too_large": "C'est trop volumineux.",
    "error.quota_exceeded": "Votre espace de stockage est plein.",
    "error.stale_devices": "Les appareils de la conversation ont changé : nouvel essai.",
    "error.rate_limited": "Trop de demandes : patientez un instant.",
    "error.unavailable": "Le service est momentanément indisponible : réessayez.",
    "error.internal": "Une erreur s'est produite de notre côté.",
    # The built-in template every practitioner has.
    "template.inappropriate_request.name": "Demande inappropriée",
    "template.inappropriate_request.text": (
        "Bonjour {patient_first_name}, cette demande ne peut pas être traitée par message."
        " Merci de prendre rendez-vous ou d'appeler le cabinet. {practitioner_name}"
    ),
    # Default request reasons (``RequestReason.code``).
    "reason.prescription_renewal": "Renouvellement d'ordonnance",
    "reason.exam_results": "Résultats d'examens",
    "reason.admin_document": "Document administratif",
    "reason.after_visit": "Question après une consultation",
    # Durations, as a delay to expect.
    "delay.hours.one": "{count} heure",
    "delay.hours.other": "{count} heures",
    "delay.days.one": "{count} jour",
    "delay.days.other": "{count} jours",
    "delay.unknown": "quelques jours",
    # The example bot's acknowledgement (clients.bots.renewal).
    "bot.renewal_ack.name": "Demande de renouvellement reçue",
    "bot.renewal_ack.text": (
        "Bonjour {patient_first_name}, votre demande de renouvellement d'ordonnance a bien été"
        " reçue. {practitioner_name} répond habituellement sous {response_delay}."
        " Ceci est une réponse automatique."
    ),
}

_EN = {
    "notice.emergency": (
        "carehub is not an emergency service. In an emergency, call 15 (SAMU) or 112."
    ),
    "notice.auto_reply": "Automatic reply",
    "notice.closed": "{by} closed the conversation.",
    "notice.reopened": "{by} reopened the conversation.",
    "notice.member_added": "{by} added {user} to the conversation.",
    "notice.member_removed": "{by} removed {user} from the conversation.",
    "notice.retracted": "{by} withdrew a message.",
    "refusal.not_verified": "This practitioner's account is not verified yet.",
    "refusal.not_a_patient": (
        "You can write to a practitioner once you are their patient"
        " (after an appointment, or when they invite you)."
    ),
    "refusal.not_accepting": "This practitioner does not take messages from patients.",
    "refusal.not_on_list": "This practitioner takes messages from some of their patients only.",
    "refusal.reason_required": "Choose why you are writing.",
    "refusal.reason_not_offered": "This practitioner does not take requests for this reason.",
    "refusal.thread_closed": "This conversation is closed.",
    "refusal.reply_not_allowed": "The practitioner's last message takes no reply.",
    "refusal.open_threads": (
        "You already have {limit} open requests with this practitioner:"
        " wait for an answer, or write in one of them."
    ),
    "refusal.daily_messages": (
        "You have sent {limit} messages to this practitioner in 24 hours: try again later."
    ),
    "refusal.unavailable": "This practitioner is not taking new messages for now.",
    "refusal.not_managed": "You do not manage this relative's profile.",
    "refusal.not_delegated": "Your delegation does not let you do this.",
    "refusal.not_colleague": "A delegate is an assistant or a bot of one of your practices.",
    "refusal.bad_scope": "This delegation is not valid.",
    "refusal.not_care_team": "Only the care team can do this.",
    "refusal.opted_out": "This patient does not take your broadcasts.",
    "refusal.role": "Your role does not allow this.",
    "refusal.rpps_unknown": "This number is not in the directory of health professionals.",
    "refusal.rpps_mismatch": (
        "The directory gives this number to {directory_name}, not to this account's holder."
    ),
    "refusal.rpps_required": "Verify this account with its RPPS number.",
    "refusal.rpps_taken": "This RPPS number already verifies another account.",
    "refusal.wrong_password": "Wrong password.",
    "refusal.second_factor": (
        "Enter the six-digit code from your authenticator app, or a recovery code."
    ),
    "refusal.wrong_code": "This code is wrong or was already used.",
    "refusal.enrol_second_factor": (
        "Your account requires two-factor authentication: set it up before you log in."
    ),
    "refusal.deactivated": "This account is deactivated. Contact your service's administrator.",
    "refusal.reset_link": "This reset link is unknown, expired or already used: ask for a new one.",
    "refusal.second_factor_required": "Two-factor authentication is required for your account.",
    "refusal.second_factor_on": "Two-factor authentication is already on.",
    "refusal.nothing_offered": "First ask for a new secret, then enter its code.",
    "refusal.own_account": "You cannot deactivate your own account.",
    "refusal.admin_account": "An administrator's account cannot be deleted from within.",
    "refusal.past_slot": "This slot has passed.",
    "refusal.outside_hours": "This slot is not offered.",
    "refusal.too_short_notice": (
        "This slot is too soon: book at least {min_notice_minutes} minutes ahead."
    ),
    "refusal.beyond_horizon": "This slot is too far ahead: book at most {horizon_days} days ahead.",
    "refusal.unknown_reason": "This practitioner offers no such visit.",
    "refusal.new_patients": "This visit is for the practitioner's patients only.",
    "refusal.slot_taken": "Someone just took this slot: choose another.",
    "refusal.hold_expired": "The hold has expired: book again.",
    "refusal.not_yours": "This appointment is not yours.",
    "refusal.too_late_to_cancel": (
        "It is too late to cancel: at the latest {cancel_notice_hours} hours before."
    ),
    "refusal.not_agenda": "You do not keep this agenda.",
    "refusal.wrong_status": "This appointment does not allow it as it stands.",
    "refusal.too_many_holds": "You already hold {limit} slots.",
    "error.invalid": "This request is not valid.",
    "error.unknown_method": "There is no such operation.",
    "error.unauthorized": "Sign in again.",
    "error.forbidden": "You have no access to this.",
    "error.not_found": "Not found.",
    "error.conflict": "This has just changed: try again.",
    "error.too_large": "This is too large.",
    "error.quota_exceeded": "Your storage is full.",
    "error.stale_devices": "The conversation's devices changed: trying again.",
    "error.rate_limited": "Too many requests: wait a moment.",
    "error.unavailable": "The service is briefly unavailable: try again.",
    "error.internal": "Something went wrong on our side.",
    "template.inappropriate_request.name": "Inappropriate request",
    "template.inappropriate_request.text": (
        "Hello {patient_first_name}, this request cannot be handled by message."
        " Please book an appointment or call the practice. {practitioner_name}"
    ),
    "reason.prescription_renewal": "Prescription renewal",
    "reason.exam_results": "Exam results",
    "reason.admin_document": "Administrative document",
    "reason.after_visit": "Question after a visit",
    "delay.hours.one": "{count} hour",
    "delay.hours.other": "{count} hours",
    "delay.days.one": "{count} day",
    "delay.days.other": "{count} days",
    "delay.unknown": "a few days",
    "bot.renewal_ack.name": "Prescription renewal received",
    "bot.renewal_ack.text": (
        "Hello {patient_first_name}, your prescription renewal request has been received."
        " {practitioner_name} usually answers within {response_delay}."
        " This is an automatic reply."
    ),
}

CATALOGUES: dict[Locale, dict[str, str]] = {Locale.FR: _FR, Locale.EN: _EN}


def locale_of(wanted: str | None) -> Locale:
    """The catalogue for ``wanted`` (``"fr"``, ``"en-GB"``...), else the default."""
    language = (wanted or "").split("-")[0].strip().lower()
    return Locale(language) if language in set(Locale) else DEFAULT_LOCALE


def render(locale: str, code: str, **params: Any) -> str:
    """The text of ``code`` in ``locale`` with ``params`` put in; a code with
    ``.one``/``.other`` forms picks one by ``params["count"]``."""
    catalogue = CATALOGUES[locale_of(locale)]
    if code not in catalogue and "count" in params:
        code = f"{code}.one" if params["count"] == 1 else f"{code}.other"
    return catalogue[code].format_map(_Params(params))


class _Params(dict[str, Any]):
    """Parameters; one that is missing stays a visible placeholder, never an error."""

    def __missing__(self, name: str) -> str:
        return "{" + name + "}"


def has_text(code: str) -> bool:
    return code in CATALOGUES[DEFAULT_LOCALE]


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in Formatter().parse(text) if name}
