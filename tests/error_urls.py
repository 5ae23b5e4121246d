"""The app's URLs plus a view that fails, to see the 500 page as people would."""

from django.urls import path

from config.urls import handler400, handler500, urlpatterns  # noqa: F401


def boom(request):
    raise RuntimeError("a bug, on purpose")


urlpatterns = [path("boom/", boom), *urlpatterns]
