"""The consent lifecycle: patients, consents, frozen items, signatures, audit events."""
