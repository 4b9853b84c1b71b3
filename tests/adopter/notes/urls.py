from rest_framework.routers import SimpleRouter

from notes.views import NoteViewSet

router = SimpleRouter()
router.register("", NoteViewSet, basename="note")
urlpatterns = router.urls
