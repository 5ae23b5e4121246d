import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()

# Import pyHanko, load the sealing key and parse the PDF stylesheet now, in each worker as it
# starts, rather than during some patient's first signature.
from consent.documents import warm_up  # noqa: E402

warm_up()
