"""Profile endpoints: public list, detail by username, and the user's own."""

from __future__ import annotations

from rest_framework import mixins, viewsets
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.settings import api_settings

from caching import CachedReadsMixin, cache
from project.throttling import LoginFailures
from users import selectors, services
from users.api import endpoints
from users.api.serializers import ProfileSerializer
from users.models import Profile


class ProfileViewSet(
    CachedReadsMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = ProfileSerializer
    permission_classes = [AllowAny]
    lookup_field = "user__username"
    lookup_url_kwarg = "username"
    lookup_value_regex = r"[\w.@+-]+"

    def get_queryset(self):
        if self.action == "list":
            return selectors.profile_list()
        return selectors.profiles_visible_to(self.request.user)

    def get_serializer_context(self) -> dict:
        return {**super().get_serializer_context(), "viewer": self.request.user}

    @cache(endpoints.profile_list)
    def list(self, request, *args, **kwargs):
        # On a response miss: the page's ids and usernames from cached
        # queries, the profiles from their detail entries (Russian-doll).
        return self.list_from_entries(request, items=endpoints.profile_detail)

    @cache(endpoints.profile_detail)
    def retrieve(self, request, *args, **kwargs):
        return super().retrieve(request, *args, **kwargs)

    @action(
        detail=False, methods=["get", "patch"], permission_classes=[IsAuthenticated]
    )
    def me(self, request):
        """Read or change the signed-in user's own profile."""
        if request.method == "GET":
            return self._me_read(request)
        profile = selectors.profiles_visible_to(request.user).get(user=request.user)
        serializer = self.get_serializer(profile, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        profile = services.profile_update(profile=profile, **serializer.validated_data)
        return self._me_response(profile)

    @cache(endpoints.profile_me)
    def _me_read(self, request):
        self.fetched_object = selectors.profiles_visible_to(request.user).get(
            user=request.user
        )
        return self._me_response(self.fetched_object)

    def _me_response(self, profile: Profile):
        from rest_framework.response import Response

        return Response(self.get_serializer(profile).data)


class TokenLoginView(ObtainAuthToken):
    """POST ``username`` and ``password``, get ``{"token": ...}``. Failed
    attempts are counted per address and username: past LOGIN_RATE, a 429 with
    Retry-After until the window ends, even for the right password."""

    parser_classes = api_settings.DEFAULT_PARSER_CLASSES
    throttle_classes = [LoginFailures]

    def post(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        if not serializer.is_valid():
            LoginFailures().failed(request)
            raise ValidationError(serializer.errors)
        token, _ = Token.objects.get_or_create(user=serializer.validated_data["user"])
        return Response({"token": token.key})
