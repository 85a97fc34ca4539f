from django.urls import include, path

from chancery.api import api
from chancery.core import views as core_views

# Django's own admin is not served: it would be a second sign-in without throttling, second
# factor, gate or audit. The application's administration pages (organisation/admin/) do the job.
urlpatterns = [
    path("", include("chancery.core.urls")),
    path("accounts/", include("chancery.accounts.urls")),
    path("organisation/", include("chancery.organisation.urls")),
    path("correspondence/", include("chancery.correspondence.urls")),
    path("planning/", include("chancery.planning.urls")),
    path("imports/", include("chancery.imports.urls")),
    path("notifications/", include("chancery.notifications.urls")),
    path("reporting/", include("chancery.reporting.urls")),
    path("audit/", include("chancery.audit.urls")),
    path("search/", include("chancery.search.urls")),
    path("i18n/setlang/", core_views.set_language, name="set_language"),
    path("api/v1/", api.urls),
]

handler404 = "chancery.core.views.not_found"
handler403 = "chancery.core.views.forbidden"
handler500 = "chancery.core.views.server_error"
