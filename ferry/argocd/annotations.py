"""Argo CD Image Updater's annotation mode (v0.18), parsed once into typed settings.

Every annotation is prefixed ``argocd-image-updater.argoproj.io/``. Settings
that may be set per image alias (``<alias>.update-strategy``) fall back to the
application-wide annotation (``update-strategy``) and then to Image Updater's
default, in that order, as Image Updater does.

Invalid values raise :class:`ConfigError` naming the application and the
annotation, so that one bad Application is reported and skipped while the
others still update.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from ferry.argocd.application import Application
from ferry.errors import ConfigError
from ferry.image.filters import TagFilter
from ferry.image.platform import Platform, parse_platforms
from ferry.image.reference import ImageReference
from ferry.image.strategy import UpdateStrategy
from ferry.image.version import Constraint

PREFIX = "argocd-image-updater.argoproj.io/"

# Image Updater's default commit message, kept so that history reads the same
# after a team moves over. Rendered by ferry.updater.render_commit_message.
DEFAULT_COMMIT_MESSAGE = (
    "build: automatic update of {{ .AppName }}\n\n"
    "{{ range .AppChanges -}}\n"
    "updates image {{ .Image }} tag '{{ .OldTag }}' to '{{ .NewTag }}'\n"
    "{{ end -}}\n"
)

# Image Updater accepts digits and dashes too (`dummy2`, `frontend-partners` in its own tests).
_ALIAS = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*$")


class TargetKind(Enum):
    """Where the write-back puts the new image."""

    ARGOCD_SOURCE = "argocd-source"
    HELM_VALUES = "helmvalues"
    KUSTOMIZATION = "kustomization"


@dataclass(frozen=True, slots=True)
class ImageSettings:
    """Everything Ferry needs to know to update one image of one application."""

    alias: str | None
    image: ImageReference
    constraint: str | None
    strategy: UpdateStrategy
    tag_filter: TagFilter
    platforms: tuple[Platform, ...]
    force_update: bool
    pull_secret: str | None
    helm_image_name: str | None
    helm_image_tag: str | None
    helm_image_spec: str | None
    kustomize_image_name: str | None

    @property
    def label(self) -> str:
        """The alias when there is one, else the image name: what logs and errors call this image."""
        return self.alias or self.image.name


@dataclass(frozen=True, slots=True)
class WriteBack:
    """The parsed ``write-back-*``, ``git-branch`` and ``git-repository`` annotations."""

    credentials: str | None  # None: the repository's own credentials ("git" / "git:repocreds")
    target_kind: TargetKind
    target: str  # the annotation's raw value, resolved to a path by ferry.writeback
    base_branch: str | None  # None: the Application's targetRevision
    write_branch: str | None  # None: same as base; may hold a template
    repository: str  # the repo URL to write to


@dataclass(frozen=True, slots=True)
class UpdaterSettings:
    """All Image Updater settings of one Application."""

    images: tuple[ImageSettings, ...]
    write_back: WriteBack


def _annotation(app: Application, key: str) -> str | None:
    value = app.annotations.get(PREFIX + key)
    return value.strip() if value is not None else None


def _per_alias(app: Application, alias: str | None, key: str) -> tuple[str | None, str]:
    """Look up ``<alias>.<key>`` then ``<key>``; return the value and the annotation that held it."""
    if alias:
        value = _annotation(app, f"{alias}.{key}")
        if value is not None:
            return value, PREFIX + f"{alias}.{key}"
    return _annotation(app, key), PREFIX + key


def _split_image_entry(entry: str) -> tuple[str | None, str, str | None]:
    """Split ``[alias=]image[:constraint]``; the constraint may hold any character but ``,``.

    The image part is cut at the first ``:`` of its last path component, so a
    registry port (``127.0.0.1:5000/x``) is never mistaken for a constraint.

    >>> _split_image_entry("echoserver=127.0.0.1:5000/cidemo/echo-server:~1.2")
    ('echoserver', '127.0.0.1:5000/cidemo/echo-server', '~1.2')
    >>> _split_image_entry("nginx")
    (None, 'nginx', None)
    """
    alias: str | None = None
    head, sep, rest = entry.partition("=")
    if sep and "/" not in head and ":" not in head:
        alias, entry = head.strip(), rest.strip()
    slash = entry.rfind("/")
    colon = entry.find(":", slash + 1)
    if colon == -1:
        return alias, entry, None
    return alias, entry[:colon], entry[colon + 1 :].strip() or None


def _parse_bool(value: str | None, key: str, app: Application) -> bool:
    if value is None or value == "":
        return False
    if value.lower() in ("true", "yes", "1"):
        return True
    if value.lower() in ("false", "no", "0"):
        return False
    raise ConfigError(f"expected true or false, got {value!r}", application=app.name, key=key)


def _image_settings(app: Application, entry: str) -> ImageSettings:
    alias, image_text, constraint = _split_image_entry(entry)
    list_key = PREFIX + "image-list"
    if alias is not None and not _ALIAS.match(alias):
        message = f"alias {alias!r} must be letters, digits and '-'"
        raise ConfigError(message, application=app.name, key=list_key)
    try:
        image = ImageReference.parse(image_text)
    except ConfigError as exc:
        raise exc.located(application=app.name, key=list_key) from exc
    if image.tag or image.digest:
        raise ConfigError(f"malformed image reference {entry!r}", application=app.name, key=list_key)

    strategy_text, strategy_key = _per_alias(app, alias, "update-strategy")
    try:
        strategy = UpdateStrategy.parse(strategy_text or "semver")
    except ConfigError as exc:
        raise exc.located(application=app.name, key=strategy_key) from exc

    if constraint and strategy is UpdateStrategy.SEMVER:
        try:
            Constraint.parse(constraint)
        except ConfigError as exc:
            raise exc.located(application=app.name, key=list_key) from exc
    if strategy is UpdateStrategy.DIGEST and not constraint:
        raise ConfigError(
            f"the digest strategy needs the tag to follow, as in {image_text}:latest",
            application=app.name,
            key=list_key,
        )

    allow, allow_key = _per_alias(app, alias, "allow-tags")
    ignore, ignore_key = _per_alias(app, alias, "ignore-tags")
    try:
        TagFilter.parse(allow_tags=allow)
    except ConfigError as exc:
        raise exc.located(application=app.name, key=allow_key) from exc
    try:
        tag_filter = TagFilter.parse(allow_tags=allow, ignore_tags=ignore)
    except ConfigError as exc:
        raise exc.located(application=app.name, key=ignore_key) from exc

    platforms_text, platforms_key = _per_alias(app, alias, "platforms")
    try:
        platforms = parse_platforms(platforms_text)
    except ConfigError as exc:
        raise exc.located(application=app.name, key=platforms_key) from exc

    force_text, force_key = _per_alias(app, alias, "force-update")
    pull_secret, _ = _per_alias(app, alias, "pull-secret")

    def own(key: str) -> str | None:
        # Value paths make sense for one image only, so they have no app-wide default.
        return _annotation(app, f"{alias}.{key}") if alias else None

    return ImageSettings(
        alias=alias,
        image=image,
        constraint=constraint,
        strategy=strategy,
        tag_filter=tag_filter,
        platforms=platforms,
        force_update=_parse_bool(force_text, force_key, app),
        pull_secret=pull_secret or None,
        helm_image_name=own("helm.image-name"),
        helm_image_tag=own("helm.image-tag"),
        helm_image_spec=own("helm.image-spec"),
        kustomize_image_name=own("kustomize.image-name"),
    )


def _write_back(app: Application) -> WriteBack:
    method_key = PREFIX + "write-back-method"
    method = _annotation(app, "write-back-method") or "git"
    kind, _, creds = method.partition(":")
    if kind == "argocd":
        raise ConfigError(
            "write-back-method 'argocd' patches the Application through an Argo CD API server, which Ferry "
            "does not use; set it to 'git' (or 'git:secret:<namespace>/<name>') so the update is committed",
            application=app.name,
            key=method_key,
        )
    if kind != "git":
        raise ConfigError(f"unknown write-back method {method!r}", application=app.name, key=method_key)
    credentials: str | None = None
    if creds and creds != "repocreds":
        if not creds.startswith("secret:") or creds.count("/") != 1:
            raise ConfigError(
                f"expected git, git:repocreds or git:secret:<namespace>/<name>, got {method!r}",
                application=app.name,
                key=method_key,
            )
        credentials = "git:" + creds

    target = _annotation(app, "write-back-target") or ""
    if not target:
        target_kind = TargetKind.ARGOCD_SOURCE
    elif target.split(":", 1)[0] == "helmvalues":
        target_kind = TargetKind.HELM_VALUES
    elif target.split(":", 1)[0] == "kustomization":
        target_kind = TargetKind.KUSTOMIZATION
    else:
        raise ConfigError(
            f"unknown write-back target {target!r}: expected helmvalues[:path] or kustomization[:path]",
            application=app.name,
            key=PREFIX + "write-back-target",
        )

    branch = _annotation(app, "git-branch")
    base: str | None = None
    write: str | None = None
    if branch:
        parts = branch.split(":")
        if len(parts) > 2 or (not parts[0] and len(parts) == 1):
            raise ConfigError(
                f"expected branch or base:target, got {branch!r}",
                application=app.name,
                key=PREFIX + "git-branch",
            )
        base = parts[0] or None
        write = parts[1] if len(parts) == 2 and parts[1] else None
    repository = _annotation(app, "git-repository") or app.source.repo_url
    return WriteBack(credentials, target_kind, target, base, write, repository)


def parse_updater_settings(app: Application) -> UpdaterSettings | None:
    """Parse the Image Updater annotations of ``app``; None when it has no ``image-list``."""
    image_list = _annotation(app, "image-list")
    if not image_list:
        return None
    entries = [e.strip() for e in image_list.split(",") if e.strip()]
    images = tuple(_image_settings(app, entry) for entry in entries)
    aliases = [i.alias for i in images if i.alias]
    if len(set(aliases)) != len(aliases):
        raise ConfigError("an alias is used twice", application=app.name, key=PREFIX + "image-list")
    write_back = _write_back(app)
    if write_back.target_kind is TargetKind.HELM_VALUES:
        _require_helm_value_paths(app, images)
    return UpdaterSettings(images=images, write_back=write_back)


def _require_helm_value_paths(app: Application, images: tuple[ImageSettings, ...]) -> None:
    """A ``helmvalues`` write-back needs each alias's value paths: Image Updater has no default there."""
    for image in images:
        if image.alias is None or image.helm_image_spec:
            continue  # Image Updater writes no value for an image without an alias
        for key, value in (
            ("helm.image-name", image.helm_image_name),
            ("helm.image-tag", image.helm_image_tag),
        ):
            if not value:
                raise ConfigError(
                    f"could not find an {key.split('.')[1]} annotation for image {image.image.name} "
                    "(write-back-target helmvalues has no default value path)",
                    application=app.name,
                    key=f"{PREFIX}{image.alias}.{key}",
                )
