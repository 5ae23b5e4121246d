"""Who a patient contacts about their consent: the one answer every page, handout and email
gives.

The consent's team, if it has its own phone or email (set in the admin), else the hospital's
(HOSPITAL_PHONE, HOSPITAL_EMAIL). Each of phone and email falls back on its own.
"""

import re
from dataclasses import dataclass

from django.conf import settings

from .models import Consent


@dataclass(frozen=True)
class Contact:
    name: str  # "Spine team at Example Hospital", or "Example Hospital"
    phone: str = ""
    email: str = ""

    @property
    def tel(self) -> str:
        """The phone number for a tel: link: digits, with a leading + kept."""
        phone = self.phone.strip()
        return ("+" if phone.startswith("+") else "") + re.sub(r"[^0-9]", "", phone)

    def as_text(self) -> str:
        """One plain sentence for emails (plain text: nothing in it is ever read as markup)."""
        ways = [
            f"call {self.phone}" if self.phone else "",
            f"email {self.email}" if self.email else "",
        ]
        ways = [way for way in ways if way]
        if not ways:
            return f"If you need help, contact {self.name}."
        return f"If you need help, contact {self.name}: " + " or ".join(ways) + "."


def hospital_contact() -> Contact:
    """The hospital's contact, from settings only (error pages render without the database)."""
    return Contact(
        name=settings.HOSPITAL_NAME,
        phone=settings.HOSPITAL_PHONE.strip(),
        email=settings.HOSPITAL_EMAIL.strip(),
    )


def contact_for(consent: Consent | None) -> Contact:
    """Who to contact about this consent (None: the hospital)."""
    hospital = hospital_contact()
    team = consent.team if consent is not None else None
    if team is None:
        return hospital
    return Contact(
        name=f"{team.name} at {settings.HOSPITAL_NAME}",
        phone=team.phone.strip() or hospital.phone,
        email=team.email.strip() or hospital.email,
    )
