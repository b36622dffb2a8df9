"""The console's and the demo's pages show who is out, private leave and balances: no browser or proxy
keeps them. Django's admin marks its own pages so (`never_cache`); this does the same for every
response under these paths, the error pages and CSV downloads included, so a page added later cannot
forget it. After signing out on a shared computer, Back shows no one's leave.

A form's address opened in the browser (a bookmark, Back after a redirect) gets Django's 405 with an
empty body, a blank page: it gets a console page saying what happened instead."""

from django.template.loader import render_to_string
from django.utils.cache import add_never_cache_headers

PRIVATE_PREFIXES = ("/console/", "/demo/")


class PrivatePagesMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.path.startswith(PRIVATE_PREFIXES):
            if response.status_code == 405 and not response.content:
                response.content = render_to_string("405.html", request=request)
                response["Content-Type"] = "text/html; charset=utf-8"
            add_never_cache_headers(response)
        return response
