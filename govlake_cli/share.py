"""``govlake share ...``: serve the share zone over Delta Sharing, manage recipient tokens, verify the audit.

govlake share serve [--host 127.0.0.1] [--port 8800] [--url-ttl 600] [--public-url URL]
govlake share publish                      run the share.publish step (build grants -> gate)
govlake share token create RECIPIENT [--days 90] [--profile FILE] [--endpoint URL]
govlake share token rotate TOKEN_ID [--grace-hours 24] [--profile FILE]
govlake share token revoke TOKEN_ID
govlake share token list
govlake share audit verify
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from govlake.config import REPO_ROOT, load_settings

share_app = typer.Typer(
    help="Delta Sharing: serve grants, manage recipient tokens, verify the audit.", no_args_is_help=True
)
token_app = typer.Typer(help="Recipients' bearer tokens (stored only as keyed hashes).", no_args_is_help=True)
audit_app = typer.Typer(
    help="The hash-chained audit of every sharing request and token change.", no_args_is_help=True
)
share_app.add_typer(token_app, name="token")
share_app.add_typer(audit_app, name="audit")

DEFAULT_PORT = 8800
#: Where `govlake demo` and `token create --profile` put a recipient's profile file (git-ignored).
PROFILES = REPO_ROOT / ".run" / "sharing" / "profiles"


def _context() -> tuple[Any, Any, Any]:
    from govlake.lake import Lake
    from govlake.sharing import share_keys

    settings = load_settings()
    lake = Lake(settings)
    return settings, lake, share_keys(settings)


def _store() -> Any:
    from jobs.share.tokens import TokenStore

    settings, lake, keys = _context()
    return TokenStore(settings, lake.catalogue, keys)


def _write_profile(path: Path, endpoint: str, token: str, expires_at: Any) -> Path:
    import os

    from jobs.share.server import profile

    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # it holds a bearer token
    with os.fdopen(fd, "w") as fh:
        json.dump(profile(endpoint, token, expires_at), fh, indent=2)
    return path


@share_app.command()
def serve(
    host: Annotated[str, typer.Option(help="address to bind (loopback unless told otherwise)")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port")] = DEFAULT_PORT,
    url_ttl: Annotated[int, typer.Option(min=1, help="seconds a file URL stays valid (keep it short)")] = 600,
    public_url: Annotated[
        str | None, typer.Option(help="base URL recipients reach (default http://host:port)")
    ] = None,
) -> None:
    """Serve the published grant tables over the open Delta Sharing protocol (one token per recipient)."""
    import uvicorn

    from jobs.share.server import SharingServer, create_app

    settings, lake, keys = _context()
    base = public_url or f"http://{host}:{port}"
    # File URLs point here too (the server streams the files from the lake): only this base URL
    # has to be reachable by recipients, never the object store.
    server = SharingServer(settings, lake.catalogue, keys, base_url=base, url_ttl=url_ttl)
    typer.echo(
        f"Delta Sharing endpoint {base}/delta-sharing  (file URLs live {url_ttl}s; audit: share.audit)"
    )
    uvicorn.run(create_app(server), host=host, port=port, log_level="info")


@share_app.command()
def publish() -> None:
    """Build every grant from the published silver versions and publish them through the share gate."""
    from govlake_cli.main import _finish, _lake, _run

    lake = _lake()
    from govlake_cli.main import _graph

    graph = _graph(lake)
    _finish(lake, _run(lake, [graph.step("share.publish")], "share: build grants -> share gate"))


@token_app.command("create")
def token_create(
    recipient: Annotated[str, typer.Argument(help="a recipient id of registry/shares.yaml")],
    days: Annotated[int, typer.Option(min=1, help="lifetime in days")] = 90,
    profile: Annotated[Path | None, typer.Option(help="write a Delta Sharing profile file here")] = None,
    endpoint: Annotated[
        str, typer.Option(help="server URL for the profile")
    ] = f"http://127.0.0.1:{DEFAULT_PORT}",
) -> None:
    """Create a bearer token for a recipient; it is printed once and stored only as a hash."""
    token, state = _store().create(recipient, timedelta(days=days))
    typer.echo(f"token {state.token_id} for {recipient}, valid until {state.expires_at.isoformat()}")
    if profile is not None:
        typer.echo(f"profile file: {_write_profile(profile, endpoint, token, state.expires_at)}")
    else:
        typer.echo(f"bearer token (shown once): {token}")


@token_app.command("rotate")
def token_rotate(
    token_id: Annotated[str, typer.Argument(help="the token to replace")],
    grace_hours: Annotated[float, typer.Option(min=0, help="hours the old token keeps working")] = 24,
    days: Annotated[int, typer.Option(min=1, help="lifetime of the new token in days")] = 90,
    profile: Annotated[Path | None, typer.Option(help="write the new token's profile file here")] = None,
    endpoint: Annotated[
        str, typer.Option(help="server URL for the profile")
    ] = f"http://127.0.0.1:{DEFAULT_PORT}",
) -> None:
    """Replace a token: a new one now, the old one refused after the grace window."""
    token, state = _store().rotate(token_id, timedelta(hours=grace_hours), timedelta(days=days))
    typer.echo(
        f"token {token_id} replaced by {state.token_id} ({state.recipient}); "
        f"the old one stays valid {grace_hours}h"
    )
    if profile is not None:
        typer.echo(f"profile file: {_write_profile(profile, endpoint, token, state.expires_at)}")
    else:
        typer.echo(f"bearer token (shown once): {token}")


@token_app.command("revoke")
def token_revoke(
    token_id: Annotated[str, typer.Argument(help="the token to revoke")],
    reason: Annotated[str, typer.Option(help="why (recorded in the audit)")] = "",
) -> None:
    """Revoke a token: refused from its next request on (file URLs already issued expire on their own)."""
    state = _store().revoke(token_id, reason)
    typer.echo(f"token {token_id} of {state.recipient} revoked")


@token_app.command("list")
def token_list() -> None:
    """Every token: id, recipient, state (never the token itself)."""
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    for state in sorted(_store().states().values(), key=lambda s: (s.recipient, s.created_at)):
        typer.echo(
            f"{state.token_id}  {state.recipient:<20} "
            f"created {state.created_at:%Y-%m-%d %H:%M}  {state.status(now)}"
        )


@audit_app.command("verify")
def audit_verify() -> None:
    """Recompute the audit's hash chain; exit 1 naming the first broken row."""
    from jobs.share.audit import verify

    settings, lake, keys = _context()
    result = verify(settings, lake.catalogue, keys)
    typer.echo(result.report())
    if not result.ok:
        raise typer.Exit(1)


def demo_profile(lake: Any) -> None:
    """For `govlake demo`: a recipient's token and profile file, and one line of Python reading a share."""
    from govlake.sharing import share_keys
    from jobs.share.tokens import TokenStore

    shares = lake.catalogue.shares
    published = lake.publications()
    grant = next((g for g in shares.grants if g.table_id in published), None)
    if grant is None:
        typer.echo("sharing: no grant is published yet (see `govlake share publish`)")
        return
    store = TokenStore(lake.settings, lake.catalogue, share_keys(lake.settings))
    token, state = store.create(grant.recipient, timedelta(days=7), note="govlake demo")
    path = _write_profile(
        PROFILES / f"{grant.recipient}.share", f"http://127.0.0.1:{DEFAULT_PORT}", token, state.expires_at
    )
    typer.echo(
        f"sharing: {len(published.keys() & {g.table_id for g in shares.grants})} grant table(s) published"
    )
    typer.echo(f"  profile file for {grant.recipient}: {path}")
    typer.echo("  start the server:  .venv/bin/govlake share serve")
    typer.echo(
        '  read a share:      .venv/bin/python -c "import delta_sharing; '
        f"print(delta_sharing.load_as_pandas('{path}#{grant.share}.{grant.schema}.{grant.table}'))\""
    )
