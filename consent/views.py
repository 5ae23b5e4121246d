from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from procedures.models import Procedure


@login_required
def home(request: HttpRequest) -> HttpResponse:
    procedures = Procedure.objects.active().prefetch_related("items")
    return render(request, "consent/home.html", {"procedures": procedures})
