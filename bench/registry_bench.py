"""Benchmark: newest-build over one image with 2,000 tags, Ferry's client versus skopeo per tag.

Starts its own CNCF Distribution registry on 127.0.0.1 (no auth), pushes N tags
of one repository (shared layer; each tag its own config with a distinct
``created``), then measures:

* Ferry cold: empty on-disk cache; ``list_tags`` + ``tag_metadata(need_created=True)``
  + pick the newest, as the ``newest-build`` strategy does.
* Ferry warm: a new client on the same cache directory (what the next cycle, in a
  new process, does), nothing new pushed.
* ``skopeo inspect --tls-verify=false docker://HOST/repo:tag`` for a sample of tags,
  timed and extrapolated to all N (skopeo has no batch mode: newest-build with it
  means one inspect per tag). Its requests per tag are counted once through a
  counting proxy.

Usage: ``.venv/bin/python bench/registry_bench.py [--tags 2000] [--skopeo-sample 100] [--no-write]``.
Writes the section "Registry: 2,000 tags, newest-build" of ``bench/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ferry.devenv.oci import OciPusher  # noqa: E402
from ferry.devenv.registry import start_registry  # noqa: E402
from ferry.image.platform import Platform  # noqa: E402
from ferry.image.tags import ImageTag  # noqa: E402
from ferry.registry import MetadataCache, RegistryClient  # noqa: E402
from tests.registry.servers import LoopbackProxy  # noqa: E402

REPOSITORY = "bench/echo-server"
SECTION = "## Registry: 2,000 tags, newest-build"
T0 = datetime(2024, 1, 1, tzinfo=UTC)


def newest(tags: dict[str, ImageTag]) -> ImageTag:
    """newest-build: latest ``created``, equal times broken by name."""
    return max(tags.values(), key=lambda t: (t.created or datetime.min.replace(tzinfo=UTC), t.name))


def push_tags(url: str, count: int) -> tuple[float, str]:
    """Push ``count`` tags; returns (seconds, name of the newest tag)."""
    names = [f"build-{i:05d}" for i in range(count)]
    # Created times are shuffled relative to names so that no ordering shortcut helps.
    times = {name: T0 + timedelta(minutes=(i * 7919) % count) for i, name in enumerate(names)}
    started = time.monotonic()
    with OciPusher(url) as pusher:
        pusher.push_image(REPOSITORY, names[0], created=times[names[0]])  # uploads the shared layer once
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda n: pusher.push_image(REPOSITORY, n, created=times[n]), names[1:]))
    return time.monotonic() - started, max(names, key=lambda n: (times[n], n))


def ferry_cycle(url: str, cache_dir: Path) -> tuple[float, int, ImageTag, int]:
    """One newest-build cycle; returns (seconds, requests, chosen tag, tags seen)."""
    started = time.monotonic()
    with RegistryClient(url, cache=MetadataCache(cache_dir)) as client:
        tags = client.list_tags(REPOSITORY)
        meta = client.tag_metadata(
            REPOSITORY, tags, platforms=(Platform("linux", "amd64"),), need_created=True, need_digest=False
        )
        chosen = newest(meta)
        requests = client.request_count
    return time.monotonic() - started, requests, chosen, len(tags)


def skopeo_inspect(host: str, tag: str, *extra: str) -> str:
    """Run one ``skopeo inspect``; return the ``Created`` it reports."""
    out = subprocess.run(
        ["skopeo", "inspect", "--tls-verify=false", *extra, f"docker://{host}/{REPOSITORY}:{tag}"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    match = re.search(r'"Created":\s*"([^"]+)"', out)
    assert match, out[:500]
    return match.group(1)


def skopeo_run(server_host: str, upstream: str, sample: list[str], *extra: str) -> tuple[float, int]:
    """Time ``skopeo inspect`` over ``sample``; return (seconds per tag, HTTP requests per tag).

    Requests are counted once, through a counting loopback proxy, so the timing
    itself runs straight against the registry.
    """
    started = time.monotonic()
    for tag in sample:
        skopeo_inspect(server_host, tag, *extra)
    per_tag = (time.monotonic() - started) / len(sample)
    with LoopbackProxy(upstream) as proxy:
        skopeo_inspect(proxy.url.removeprefix("http://"), sample[0], *extra)
        requests = len(proxy.seen)
    return per_tag, requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tags", type=int, default=2000)
    parser.add_argument("--skopeo-sample", type=int, default=100)
    parser.add_argument("--no-write", action="store_true", help="print only; leave bench/RESULTS.md alone")
    args = parser.parse_args()
    if shutil.which("skopeo") is None:
        sys.exit("skopeo is not installed (apt-get install skopeo)")
    n = args.tags

    work = Path(tempfile.mkdtemp(prefix="ferry-bench-"))
    server = start_registry(work / "registry")
    try:
        push_seconds, expected = push_tags(server.url, n)
        print(f"pushed {n} tags in {push_seconds:.1f}s; newest should be {expected}")
        cache_dir = work / "cache"
        load = os.getloadavg()[0]
        cold_s, cold_n, cold_pick, seen = ferry_cycle(server.url, cache_dir)
        warm_s, warm_n, warm_pick, _ = ferry_cycle(server.url, cache_dir)
        assert seen == n, seen
        assert cold_pick.name == warm_pick.name == expected, (cold_pick, warm_pick, expected)
        print(f"ferry cold: {cold_s:.2f}s, {cold_n} requests; warm: {warm_s:.3f}s, {warm_n} requests")

        step = max(1, n // args.skopeo_sample)
        sample = [f"build-{i:05d}" for i in range(0, n, step)][: args.skopeo_sample]
        plain_s, plain_r = skopeo_run(server.host, server.url, sample)
        notags_s, notags_r = skopeo_run(server.host, server.url, sample, "--no-tags")
        print(
            f"skopeo inspect: {plain_s * 1000:.0f} ms/tag, {plain_r} requests/tag; "
            f"--no-tags: {notags_s * 1000:.0f} ms/tag, {notags_r} requests/tag"
        )
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)

    k = len(sample)
    command = f"bench/registry_bench.py --tags {n} --skopeo-sample {args.skopeo_sample}"
    report = f"""{SECTION}

Machine: 2 cores, 24 GiB, Debian 12, Python {platform.python_version()}; CNCF Distribution 2.8.2
(`docker-registry`, filesystem storage, no auth) on 127.0.0.1; skopeo 1.9.3.
Measured {datetime.now(UTC):%Y-%m-%d} by `{command}`; the 1-minute load average was
{load:.1f} when the timed part began (the machine is shared, so absolute times are noisy; the
request counts are exact).

One repository, {n:,} tags, each with its own OCI config and a distinct `created` (one shared
layer); pushing them took {push_seconds:.1f} s. The job is `newest-build`: list the tags, read
every tag's config `created`, pick the newest. Every run below picked the right tag (`{expected}`).

| Method | Wall time | HTTP requests |
|---|---:|---:|
| Ferry `RegistryClient`, cold (empty disk cache, 8 in flight) | {cold_s:.2f} s | {cold_n:,} |
| Ferry `RegistryClient`, warm (new client, same disk cache) | {warm_s:.3f} s | {warm_n:,} |
| `skopeo inspect` per tag, one after another (extrapolated) | ~{plain_s * n:.0f} s | ~{plain_r * n:,} |
| `skopeo inspect --no-tags` per tag (extrapolated) | ~{notags_s * n:.0f} s | ~{notags_r * n:,} |

- Ferry cold: one `tags/list`, then one manifest GET and one config-blob GET per tag
  (1 + 2 x {n:,} = {1 + 2 * n:,} requests).
- Ferry warm: nothing new was pushed, so the cycle is the single `tags/list`; every known tag
  is answered from the disk cache (tag -> manifest digest -> created).
- skopeo rows are **extrapolated**: {k} sampled tags were inspected one by one
  ({plain_s * 1000:.0f} ms per tag, and {notags_s * 1000:.0f} ms with `--no-tags`), and that
  rate is multiplied by {n:,}. They are not a measured full run. skopeo has no batch mode, so
  `newest-build` with it means one process per tag.
- skopeo's requests were counted once through a loopback proxy: plain `skopeo inspect` sends
  {plain_r} per tag (`/v2/` ping, manifest, config, a second ping and a full `tags/list` for
  `RepoTags`); `--no-tags` sends {notags_r}. Both also try HTTPS first and fall back to HTTP,
  a failed TLS handshake not counted here.
"""
    print(report)
    if not args.no_write:
        write_section(ROOT / "bench" / "RESULTS.md", report)


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
