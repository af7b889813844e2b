"""Build rules: the ``builds:`` entries of ``ferry.yaml`` (the seed's ACR build tasks).

One rule watches one source repository::

    builds:
      - name: echo-server
        repo: https://git.example.com/team/echo-server.git
        credentials: env:SOURCE_GIT_TOKEN          # optional, any credential reference
        ref_type: tag                              # or branch
        pattern: '^release-(?P<version>.+)$'       # must match the whole short ref name
        dockerfile: Dockerfile                     # relative to the context
        context: .                                 # relative to the repository root
        image: registry.example.com/cidemo/echo-server
        tag: '{version}-{sha:6}'                   # see ferry.ci.template
        build_args: {VERSION: '{version}'}
        builder:                                   # optional; buildah when absent
          build: docker build -f {dockerfile} {build_args} {labels} -t {image} {context}
          push: docker --config {docker_config} push {image}

Every check runs when the config is loaded, and a failure is a ConfigError that
names the rule and the key. The CI stage (:mod:`ferry.ci`) acts on these rules;
they live here so that loading the config imports only the CI vocabulary
(:mod:`ferry.ci.commands`, :mod:`ferry.ci.template`), which imports no CI code.
"""

from __future__ import annotations

import re
from enum import StrEnum

from pydantic import Field, model_validator

from ferry.ci.commands import DEFAULT_BUILD, DEFAULT_PUSH, BuilderCommands
from ferry.ci.template import Template
from ferry.errors import ConfigError
from ferry.image.reference import ImageReference
from ferry.schema.base import FrozenModel
from ferry.vcs.paths import normalize_repo_path

_RULE_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_BUILD_ARG = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class RefType(StrEnum):
    """Which refs of the source repository a rule watches."""

    tag = "tag"
    branch = "branch"

    @property
    def prefix(self) -> str:
        """The full ref prefix: ``refs/tags/`` or ``refs/heads/``."""
        return "refs/tags/" if self is RefType.tag else "refs/heads/"


class BuilderConfig(FrozenModel):
    """Command templates that replace buildah (see :mod:`ferry.ci.builder` for the placeholders)."""

    build: str = Field(default=DEFAULT_BUILD, description="The build command template")
    push: str = Field(default=DEFAULT_PUSH, description="The push command template")


class BuildRule(FrozenModel):
    """One ``builds:`` entry."""

    name: str = Field(description="Unique rule name: lowercase letters, digits and dashes")
    repo: str = Field(description="The source repository URL (https, ssh, file)")
    credentials: str | None = Field(default=None, description="A credential reference for the repository")
    ref_type: RefType = Field(default=RefType.tag, description="tag or branch")
    pattern: str = Field(description="A regex with named groups that must match the whole short ref name")
    dockerfile: str = Field(default="Dockerfile", description="Dockerfile path, relative to the context")
    context: str = Field(default=".", description="Build context, relative to the repository root")
    image: str = Field(description="Target image without tag, e.g. registry.example.com/team/app")
    tag: str = Field(description="Tag template, e.g. '{version}-{sha:6}'")
    build_args: dict[str, str] = Field(default_factory=dict, description="Build args; values are templates")
    builder: BuilderConfig | None = Field(default=None, description="Replace buildah with other commands")
    timeout: float = Field(default=1800.0, gt=0, description="Seconds each build or push command may take")

    @model_validator(mode="after")
    def _check(self) -> BuildRule:
        def fail(key: str, message: str) -> ValueError:
            return ValueError(f"build rule '{self.name}': '{key}': {message}")

        if not _RULE_NAME.match(self.name):
            raise fail("name", "use lowercase letters, digits and dashes (at most 63)")
        try:
            regex = re.compile(self.pattern)
        except re.error as exc:
            raise fail("pattern", f"not a valid regular expression: {exc}") from None
        groups = set(regex.groupindex)
        try:
            Template.parse(self.tag, names=groups)
        except ValueError as exc:
            raise fail("tag", str(exc)) from None
        for key, value in self.build_args.items():
            if not _BUILD_ARG.match(key):
                raise fail(f"build_args.{key}", "a build arg name is letters, digits and '_'")
            try:
                Template.parse(value, names=groups, tag_literals=False)
            except ValueError as exc:
                raise fail(f"build_args.{key}", str(exc)) from None
        try:
            reference = ImageReference.parse(self.image)
        except ConfigError as exc:
            raise fail("image", str(exc)) from None
        if reference.tag is not None or reference.digest is not None or reference.registry is None:
            raise fail("image", "name the registry host and repository, without a tag or digest")
        for key in ("dockerfile", "context"):
            path = getattr(self, key)
            if key == "context" and path in (".", "./", ""):
                continue
            try:
                normalize_repo_path(path)
            except ConfigError as exc:
                raise fail(key, str(exc)) from None
        if self.builder is not None:
            try:
                BuilderCommands.parse(self.builder.build, self.builder.push)
            except ValueError as exc:
                raise fail("builder", str(exc)) from None
        return self

    @property
    def regex(self) -> re.Pattern[str]:
        """The compiled ``pattern``."""
        return re.compile(self.pattern)

    @property
    def tag_template(self) -> Template:
        """The parsed ``tag`` template."""
        return Template.parse(self.tag, names=set(self.regex.groupindex))

    @property
    def commands(self) -> BuilderCommands:
        """The builder commands: the rule's own, else buildah's."""
        builder = self.builder or BuilderConfig()
        return BuilderCommands.parse(builder.build, builder.push)

    @property
    def image_reference(self) -> ImageReference:
        """The target image, parsed."""
        return ImageReference.parse(self.image)

    def build_arg_values(self, values: dict[str, str | None]) -> tuple[tuple[str, str], ...]:
        """The build args with their templates rendered."""
        groups = set(self.regex.groupindex)
        return tuple(
            (key, Template.parse(text, names=groups, tag_literals=False).render(values))
            for key, text in self.build_args.items()
        )
