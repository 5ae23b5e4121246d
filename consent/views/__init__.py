"""Views, one module per audience: surgeon.py (signed-in staff), patient.py (the patient's
private link and the pages behind it) and public.py (anyone: document verification)."""
