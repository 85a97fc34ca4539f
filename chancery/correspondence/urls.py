from django.urls import URLPattern, URLResolver

app_name = "correspondence"
urlpatterns: list[URLPattern | URLResolver] = []
