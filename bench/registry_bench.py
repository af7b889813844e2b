"""Benchmark: a cold newest-build scan of 2,000 tags, annotated or not, beside a raw fetch of its URLs.

Starts its own CNCF Distribution registry on 127.0.0.1 (no auth) and pushes two
repositories of N tags each (one shared layer; each tag its own config with a
distinct ``created``):

* ``bench/annotated``: every manifest also carries ``org.opencontainers.image.created``
  (as buildah's ``--annotation`` and Ferry's own builds write it), so Ferry reads no config;
* ``bench/plain``: no annotation, so Ferry reads every tag's config blob.

Per repository, in the same run:

* Ferry cold: empty on-disk cache; ``list_tags`` + ``tag_metadata(need_created=True)``
  + pick the newest, as the ``newest-build`` strategy does (8 requests in flight).
* Raw fetch: the very URLs Ferry requested (recorded once through a counting loopback
  proxy, untimed), fetched straight from the registry by ``curl --parallel --parallel-max 8``
  and by a plain httpx loop with 8 threads, neither parsing anything. Ferry's time is
  divided by each: Ferry is a Python client, so the httpx loop is the like-for-like anchor and
  curl the floor.
* Ferry warm: a new client on the same cache directory, nothing new pushed.
* ``skopeo inspect --tls-verify=false docker://HOST/repo:tag`` for a sample of tags,
  timed and extrapolated to all N (skopeo has no batch mode); its requests per tag are
  counted once through a counting proxy.

Ferry and curl are timed ``--repeats`` times each, alternately; the fastest of each is kept.
Usage: ``.venv/bin/python bench/registry_bench.py [--tags 2000] [--skopeo-sample 100] [--repeats 2]
[--no-write]``. Writes the section "Registry: cold scans, annotated or not" of ``bench/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ferry.devenv.oci import OciPusher, created_annotation  # noqa: E402
from ferry.devenv.registry import start_registry  # noqa: E402
from ferry.image.platform import Platform  # noqa: E402
from ferry.image.tags import ImageTag  # noqa: E402
from ferry.registry import MetadataCache, RegistryClient  # noqa: E402
from ferry.registry.model import MANIFEST_ACCEPT  # noqa: E402
from tests.registry.servers import LoopbackProxy  # noqa: E402

VARIANTS = {"annotated": "bench/annotated", "unannotated": "bench/plain"}
SECTION = "## Registry: cold scans, annotated or not, beside a raw fetch (issue 14)"
T0 = datetime(2024, 1, 1, tzinfo=UTC)
IN_FLIGHT = 8


@dataclass(frozen=True)
class Measured:
    """One repository's figures."""

    variant: str
    cold_s: float
    cold_n: int
    methods: Counter[str]
    warm_s: float
    warm_n: int
    curl_s: float
    httpx_s: float
    urls: int
    skopeo_s: float
    skopeo_r: int
    notags_s: float
    notags_r: int


def newest(tags: dict[str, ImageTag]) -> ImageTag:
    """newest-build: latest ``created``, equal times broken by name."""
    return max(tags.values(), key=lambda t: (t.created or datetime.min.replace(tzinfo=UTC), t.name))


def push_tags(url: str, repository: str, count: int, *, annotate: bool) -> tuple[float, str]:
    """Push ``count`` tags; returns (seconds, name of the newest tag)."""
    names = [f"build-{i:05d}" for i in range(count)]
    # Created times are shuffled relative to names so that no ordering shortcut helps.
    times = {name: T0 + timedelta(minutes=(i * 7919) % count) for i, name in enumerate(names)}

    def push(pusher: OciPusher, name: str) -> str:
        annotations = created_annotation(times[name]) if annotate else None
        return pusher.push_image(repository, name, created=times[name], annotations=annotations)

    started = time.monotonic()
    with OciPusher(url) as pusher:
        push(pusher, names[0])  # uploads the shared layer once
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda n: push(pusher, n), names[1:]))
    return time.monotonic() - started, max(names, key=lambda n: (times[n], n))


def ferry_cycle(url: str, repository: str, cache_dir: Path) -> tuple[float, int, ImageTag, int]:
    """One newest-build cycle; returns (seconds, requests, chosen tag, tags seen)."""
    started = time.monotonic()
    with RegistryClient(url, cache=MetadataCache(cache_dir), max_concurrency=IN_FLIGHT) as client:
        tags = client.list_tags(repository)
        meta = client.tag_metadata(
            repository, tags, platforms=(Platform("linux", "amd64"),), need_created=True, need_digest=False
        )
        chosen = newest(meta)
        requests = client.request_count
    return time.monotonic() - started, requests, chosen, len(tags)


def record_urls(upstream: str, repository: str, work: Path) -> tuple[list[str], Counter[str]]:
    """The paths a cold Ferry scan requests, in order, and a count per method and kind (untimed)."""
    with LoopbackProxy(upstream) as proxy:
        ferry_cycle(proxy.url, repository, Path(tempfile.mkdtemp(prefix="record-", dir=work)))
        seen = list(proxy.seen)
    kinds: Counter[str] = Counter()
    for method, path, _ in seen:
        what = "tags/list" if "/tags/list" in path else "manifest" if "/manifests/" in path else "blob"
        kinds[f"{method} {what}"] += 1
    return [path for _, path, _ in seen], kinds


def curl_fetch(base: str, paths: list[str], work: Path) -> float:
    """``curl --parallel`` over ``paths``, bodies discarded; every answer must be 200."""
    config = work / "curl.conf"
    lines = [f'url = "{base}{path}"\noutput = "/dev/null"' for path in paths]
    config.write_text("\n".join(lines) + "\n")
    started = time.monotonic()
    done = subprocess.run(
        [
            "curl",
            "--silent",
            "--parallel",
            "--parallel-max",
            str(IN_FLIGHT),
            "--header",
            f"Accept: {MANIFEST_ACCEPT}",
            "--write-out",
            "%{http_code}\n",
            "--config",
            str(config),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    seconds = time.monotonic() - started
    codes = done.stdout.split()
    assert len(codes) == len(paths) and set(codes) == {"200"}, Counter(codes)
    return seconds


def httpx_fetch(base: str, paths: list[str]) -> float:
    """The same URLs through one httpx client and 8 threads, reading each body and parsing none."""
    with httpx.Client(base_url=base, headers={"Accept": MANIFEST_ACCEPT}, timeout=30.0) as client:

        def one(path: str) -> int:
            response = client.get(path)
            assert response.status_code == 200, (path, response.status_code)
            return len(response.content)

        started = time.monotonic()
        with ThreadPoolExecutor(IN_FLIGHT) as pool:
            list(pool.map(one, paths))
        return time.monotonic() - started


def skopeo_inspect(host: str, repository: str, tag: str, *extra: str) -> str:
    """Run one ``skopeo inspect``; return the ``Created`` it reports."""
    out = subprocess.run(
        ["skopeo", "inspect", "--tls-verify=false", *extra, f"docker://{host}/{repository}:{tag}"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    match = re.search(r'"Created":\s*"([^"]+)"', out)
    assert match, out[:500]
    return match.group(1)


def skopeo_run(
    server_host: str, upstream: str, repository: str, sample: list[str], *extra: str
) -> tuple[float, int]:
    """Time ``skopeo inspect`` over ``sample``; return (seconds per tag, HTTP requests per tag).

    Requests are counted once, through a counting loopback proxy, so the timing
    itself runs straight against the registry.
    """
    started = time.monotonic()
    for tag in sample:
        skopeo_inspect(server_host, repository, tag, *extra)
    per_tag = (time.monotonic() - started) / len(sample)
    with LoopbackProxy(upstream) as proxy:
        skopeo_inspect(proxy.url.removeprefix("http://"), repository, sample[0], *extra)
        requests = len(proxy.seen)
    return per_tag, requests


def measure(
    variant: str,
    server_url: str,
    server_host: str,
    n: int,
    sample: list[str],
    repeats: int,
    expected: str,
    work: Path,
) -> Measured:
    """Every figure of one repository, printed as it is taken."""
    repository = VARIANTS[variant]
    paths, methods = record_urls(server_url, repository, work)
    ferry_runs, curl_runs = [], []
    for attempt in range(repeats):
        curl_runs.append(curl_fetch(server_url, paths, work))
        cache_dir = work / f"cache-{variant}-{attempt}"
        cold_s, cold_n, cold_pick, seen = ferry_cycle(server_url, repository, cache_dir)
        assert seen == n and cold_pick.name == expected, (seen, cold_pick, expected)
        ferry_runs.append(cold_s)
    warm_s, warm_n, warm_pick, _ = ferry_cycle(server_url, repository, cache_dir)
    assert warm_pick.name == expected, (warm_pick, expected)
    httpx_s = httpx_fetch(server_url, paths)
    cold_s, curl_s = min(ferry_runs), min(curl_runs)
    print(f"ferry cold ({variant}): {cold_s:.2f}s, {cold_n} requests; warm: {warm_s:.3f}s, {warm_n} requests")
    print(f"  ferry's requests ({variant}): " + ", ".join(f"{k} {v}" for k, v in sorted(methods.items())))
    print(
        f"raw fetch ({variant}): {len(paths)} URLs, curl --parallel {curl_s:.2f}s, httpx loop "
        f"{httpx_s:.2f}s; ferry/curl = {cold_s / curl_s:.2f}x, ferry/httpx = {cold_s / httpx_s:.2f}x"
    )
    plain_s, plain_r = skopeo_run(server_host, server_url, repository, sample)
    notags_s, notags_r = skopeo_run(server_host, server_url, repository, sample, "--no-tags")
    print(
        f"skopeo inspect ({variant}): {plain_s * 1000:.0f} ms/tag, {plain_r} requests/tag; "
        f"--no-tags: {notags_s * 1000:.0f} ms/tag, {notags_r} requests/tag"
    )
    assert cold_n == len(paths), (cold_n, len(paths))
    return Measured(
        variant,
        cold_s,
        cold_n,
        methods,
        warm_s,
        warm_n,
        curl_s,
        httpx_s,
        len(paths),
        plain_s,
        plain_r,
        notags_s,
        notags_r,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tags", type=int, default=2000)
    parser.add_argument("--skopeo-sample", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=2, help="Ferry and curl runs per repository")
    parser.add_argument("--no-write", action="store_true", help="print only; leave bench/RESULTS.md alone")
    args = parser.parse_args()
    for tool in ("skopeo", "curl"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is not installed (apt-get install {tool})")
    n = args.tags

    work = Path(tempfile.mkdtemp(prefix="ferry-bench-"))
    server = start_registry(work / "registry")
    try:
        pushed = {v: push_tags(server.url, VARIANTS[v], n, annotate=v == "annotated") for v in VARIANTS}
        expected = {v: name for v, (_, name) in pushed.items()}
        assert len(set(expected.values())) == 1, expected
        push_seconds = sum(seconds for seconds, _ in pushed.values())
        print(f"pushed 2 x {n} tags in {push_seconds:.1f}s; newest should be {expected['annotated']}")
        step = max(1, n // args.skopeo_sample)
        sample = [f"build-{i:05d}" for i in range(0, n, step)][: args.skopeo_sample]
        load_before = Path("/proc/loadavg").read_text().split()[:3]
        results = [
            measure(v, server.url, server.host, n, sample, args.repeats, expected[v], work) for v in VARIANTS
        ]
        load_after = Path("/proc/loadavg").read_text().split()[:3]
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)

    report = render(
        args, n, push_seconds, expected["annotated"], len(sample), load_before, load_after, results
    )
    print(report)
    if not args.no_write:
        write_section(ROOT / "bench" / "RESULTS.md", report)


def render(
    args: argparse.Namespace,
    n: int,
    push_seconds: float,
    expected: str,
    k: int,
    load_before: list[str],
    load_after: list[str],
    results: list[Measured],
) -> str:
    """The RESULTS.md section."""
    command = (
        f"bench/registry_bench.py --tags {n} --skopeo-sample {args.skopeo_sample} --repeats {args.repeats}"
    )
    rows = []
    for m in results:
        timed = [
            (f"Ferry cold (empty disk cache, {IN_FLIGHT} in flight)", m.cold_s, m.cold_n),
            ("raw fetch of the same URLs, `curl --parallel`", m.curl_s, m.urls),
            (f"raw fetch of the same URLs, httpx loop ({IN_FLIGHT} threads)", m.httpx_s, m.urls),
        ]
        for label, seconds, count in timed:
            ratios = f"{seconds / m.curl_s:.2f}x | {seconds / m.httpx_s:.2f}x"
            rows.append(f"| {m.variant}: {label} | {seconds:.2f} s | {count:,} | {ratios} |")
        rows.append(
            f"| {m.variant}: Ferry warm (new client, same disk cache) | {m.warm_s:.3f} s | {m.warm_n} | | |"
        )
        for label, per_tag, per_tag_requests in (
            ("", m.skopeo_s, m.skopeo_r),
            (" --no-tags", m.notags_s, m.notags_r),
        ):
            rows.append(
                f"| {m.variant}: `skopeo inspect{label}` per tag (extrapolated) | ~{per_tag * n:.0f} s | "
                f"~{per_tag_requests * n:,} | | |"
            )
    table = "\n".join(rows)
    breakdown = "\n".join(
        f"- {m.variant}: " + ", ".join(f"{key} {value:,}" for key, value in sorted(m.methods.items()))
        for m in results
    )
    return f"""{SECTION}

Machine: 2 cores, 24 GiB, Debian 12, Python {platform.python_version()}; CNCF Distribution 2.8.2
(`docker-registry`, filesystem storage, no auth) on 127.0.0.1; curl 7.88; skopeo 1.9.3.
Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `{command}`. `/proc/loadavg` was
{" ".join(load_before)} when the timed part began and {" ".join(load_after)} when it ended (the
machine is shared with other jobs, so absolute times are noisy; the request counts are exact).

Two repositories of {n:,} tags each (own OCI config per tag, distinct `created`, one shared layer;
pushing both took {push_seconds:.1f} s). In `bench/annotated` every manifest also carries
`org.opencontainers.image.created`; `bench/plain` has no annotations. The job is `newest-build`:
list the tags, learn every tag's creation time, pick the newest.
Every run below picked the right tag (`{expected}`).
Ferry and curl ran {args.repeats} times each, alternately; the fastest of each is shown.
The ratio columns are each row's time over curl's, and over the httpx loop's, for the same URLs.

| Method | Wall time | HTTP requests | vs curl | vs httpx loop |
|---|---:|---:|---:|---:|
{table}

Ferry's requests, counted by method at a loopback proxy in an untimed recording run (the raw
fetches replay exactly those paths):
{breakdown}

- Annotated: one `tags/list` and one manifest GET per tag; the config blob is never fetched,
  because the manifest's annotation is trusted over the config ({n + 1:,} requests instead of
  {2 * n + 1:,}).
- Unannotated: the annotation is absent, so each tag also costs its config-blob GET, as before.
- Warm: the single `tags/list`; every known tag is answered from the disk cache
  (tag -> manifest digest -> created, the annotation's time included).
- skopeo rows are **extrapolated** from {k} sampled tags inspected one by one; skopeo has no
  batch mode, so `newest-build` with it means one process per tag. Its requests were counted once
  through a loopback proxy (plain: `/v2/` ping, manifest, config, a second ping and a full
  `tags/list`; `--no-tags` drops the last two). It also tries HTTPS first, not counted here.
"""


def write_section(path: Path, section: str) -> None:
    """Replace this benchmark's section of RESULTS.md (up to the next ``## `` heading), keeping the rest."""
    text = path.read_text() if path.exists() else "# Benchmarks\n\n"
    start = text.find(SECTION)
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        following = text.find("\n## ", start + len(SECTION))
        end = len(text) if following < 0 else following + 1
        text = text[:start] + section + ("\n" + text[end:] if following >= 0 else "")
    path.write_text(text)


if __name__ == "__main__":
    main()
