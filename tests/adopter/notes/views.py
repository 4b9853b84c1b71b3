from rest_framework import serializers, viewsets

from caching import CachedReadsMixin, Endpoint, cache, render_json
from notes.models import Note


class NoteSerializer(serializers.ModelSerializer):
    class Meta:
        model = Note
        fields = ["id", "title", "body"]


# The guide, step 3: one declaration per cached endpoint.
note_detail = Endpoint(
    "note-detail", model=Note, render=lambda note: render_json(NoteSerializer, note)
)


class NoteViewSet(CachedReadsMixin, viewsets.ModelViewSet):
    queryset = Note.objects.all()
    serializer_class = NoteSerializer

    @cache(note_detail)
    def retrieve(self, request, *args, **kwargs):
        return super().retrieve(request, *args, **kwargs)
